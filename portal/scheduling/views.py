"""Routes of the private calendar feed: the settings under "My account" and the feed itself.

The feed URL carries a secret token (only its sha256 is stored); it is the credential, so the route is public
and an unknown token is a 404.
"""
from __future__ import annotations

from flask import Response, abort, flash, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from portal import policy
from portal.htmx import redirect_to
from portal.mail.services import external_url

from . import bp, services


@bp.app_template_global()
def calendar_feed_status():
    if not current_user.is_authenticated:
        return None
    return services.feed_of(current_user)


def _settings(token: str | None = None):
    from portal.conferences.meetings import upcoming_for

    feed_url = external_url("scheduling.feed", token=token) if token else None
    return render_template("scheduling/feed.html", feed=services.feed_of(current_user), feed_url=feed_url,
                           upcoming=upcoming_for(current_user))


@bp.route("/account/calendar")
@policy.requires("calendar.feed")
def feed_settings():
    return _settings()


@bp.route("/account/calendar/new", methods=["POST"])
@policy.requires("calendar.feed")
def create_feed():
    from portal.forms import EmptyForm

    if not EmptyForm().validate_on_submit():
        abort(400)
    token = services.create_feed(current_user._get_current_object())
    flash(_("Your calendar address is ready. Copy it now: it is shown only once. Any earlier address no longer works."),
          "success")
    return _settings(token)


@bp.route("/account/calendar/revoke", methods=["POST"])
@policy.requires("calendar.feed")
def revoke_feed():
    from portal.forms import EmptyForm

    if not EmptyForm().validate_on_submit():
        abort(400)
    if services.revoke_feed(current_user._get_current_object()):
        flash(_("Your calendar address is revoked. Calendars that use it get nothing more."), "success")
    else:
        flash(_("You have no calendar address."), "warning")
    return redirect_to(url_for("scheduling.feed_settings"))


@bp.route("/calendar/<token>.ics")
@policy.public
def feed(token):
    from portal.conferences.meetings import user_feed

    user = services.user_for_feed_token(token)
    if user is None:
        abort(404)
    return Response(user_feed(user), mimetype="text/calendar", headers={
        "Content-Disposition": 'inline; filename="meetings.ics"', "Cache-Control": "private, no-store",
        "X-Robots-Tag": "noindex"})
