from flask import Blueprint

bp = Blueprint("conferences", __name__)
