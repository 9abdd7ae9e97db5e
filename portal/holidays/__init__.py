"""Working-day calendar: Chinese public holidays and adjusted working days (调休)."""
from flask import Blueprint

bp = Blueprint("holidays", __name__)
