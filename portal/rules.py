"""Every number the portal's rules depend on, in one place, with where it comes from.

Statutory time limits (see shared DOMAIN.md) are added here as the features that use them arrive.
"""
from datetime import timedelta

# --- accounts and sign-in (house security policy) --------------------------------------
LOGIN_FAILURES_BEFORE_LOCK = 5            # failed log-ins within LOGIN_FAILURE_WINDOW lock the account
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
LOGIN_LOCK_DURATION = timedelta(minutes=15)
PASSWORD_MIN_LENGTH = 10
ONE_TIME_CODE_DIGITS = 6
ONE_TIME_CODE_VALIDITY = timedelta(minutes=10)
ONE_TIME_CODE_MAX_ATTEMPTS = 5
INVITATION_VALIDITY = timedelta(days=7)
TEMPORARY_PASSWORD_LENGTH = 14
