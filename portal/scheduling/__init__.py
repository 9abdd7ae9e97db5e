"""Bookings shared by every kind of meeting (joint conferences, mediation sessions, reception days):
one conflict check, iCalendar invitations and private calendar feeds."""
from flask import Blueprint

bp = Blueprint("scheduling", __name__)
