"""Mediation agreements (调解协议书): drafting, signing, the sealed PDF, public verification, follow-up."""
from flask import Blueprint

bp = Blueprint("agreements", __name__)
