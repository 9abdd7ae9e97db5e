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

# --- petition handling time limits (see shared DOMAIN.md) --------------------------------
# Letters and Visits Work Regulations 2022 (信访工作条例) art. 22: the petition department registers and
# routes (transfer/assign) within 15 days.
ROUTING_DAYS = 15
# 2022 art. 23: the receiving department tells the petitioner of acceptance within 15 days of receipt.
ACCEPTANCE_NOTICE_DAYS = 15
# 2022 art. 23: a matter outside the department's competence is returned within 5 working days.
OBJECTION_WORKING_DAYS = 5
# Handling from acceptance to the handling opinion: 60 days (2022 art. 32).
HANDLING_DAYS = 60
# Extension: at most 30 more days, approved by the head of the body, reason told to the petitioner (art. 32).
EXTENSION_MAX_DAYS = 30
# Review (复查) request within 30 days of receiving the opinion, answered within 30 days (2005 Regulations art. 34;
# 2022 text not checked word by word, so kept here to change in one place).
REVIEW_REQUEST_DAYS = 30
REVIEW_DAYS = 30
# Re-review (复核) request within 30 days of the review opinion, answered within 30 days (2005 art. 35).
REREVIEW_REQUEST_DAYS = 30
REREVIEW_DAYS = 30
# A calendar-day limit that ends on a day off runs to the next working day (the rule of the procedure laws,
# e.g. Civil Procedure Law art. 85; applied to petition limits by local practice).
ROLL_CALENDAR_LIMITS_TO_WORKING_DAY = True
# Lists highlight a clock as near due this many days before its date.
NEAR_DUE_DAYS = 3
# A group visit sends at most 5 representatives (2022 art. 20).
GROUP_VISIT_MAX_REPRESENTATIVES = 5
# Supervision (督办): days the department has to answer a supervision notice in writing (local practice).
SUPERVISION_RESPONSE_DAYS = 5

# --- intake ------------------------------------------------------------------------------
REFERENCE_PREFIX = "YX"
QUERY_CODE_LENGTH = 8
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENTS_PER_CASE = 20

# --- joint conferences (local practice, see shared DOMAIN.md) ------------------------------------------
MEETING_NOTICE_DAYS = 3  # a regular meeting is announced at least this many days ahead; shorter is urgent
TASK_REMINDER_DAYS = 3  # the responsible department is reminded this many days before a task is due
TASK_SUPERVISION_RESPONSE_DAYS = 5  # days to answer a task supervision notice with a reason and progress

# --- mediation (People's Mediation Law 2010; see shared DOMAIN.md) -------------------------------------
# A mediation should normally finish in about a month (2002 rules on people's mediation, m): matters open longer
# are highlighted as running long.
MEDIATION_USUAL_DAYS = 30
MEDIATION_SESSION_MAX_MINUTES = 8 * 60

# --- mediation agreements (People's Mediation Law 2010 arts. 29-33; see shared DOMAIN.md) ----------------------
JUDICIAL_CONFIRMATION_DAYS = 30  # art. 33: joint application to the court within 30 days of taking effect (v)
JUDICIAL_REMINDER_DAYS = 7  # the parties are reminded this many days before that window ends
OBLIGATION_REMINDER_DAYS = 3  # the obliged party is reminded this many days before an obligation is due
SIGNING_REMINDER_DAYS = 2  # pending signers are reminded after this many days without signing
SIGNATURE_IMAGE_MAX_BYTES = 200 * 1024  # a drawn signature (PNG)
SEAL_IMAGE_MAX_BYTES = 2 * 1024 * 1024
VERIFY_UPLOAD_MAX_BYTES = 20 * 1024 * 1024  # a PDF uploaded to the public verification page
