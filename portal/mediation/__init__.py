"""Mediation proceedings (访调对接 / 诉调对接): matters, parties, sessions, the proceedings record, outcomes."""
from flask import Blueprint

bp = Blueprint("mediation", __name__, url_prefix="/mediation")
