"""The private calendar feed: a secret token (stored hashed) that can be regenerated and revoked."""
from __future__ import annotations

import hashlib
import re

from icalendar import Calendar

from portal.accounts.models import Role
from portal.scheduling.models import CalendarFeed
from tests.helpers import audit_events, count, database, sign_in, text
from tests.scheduling_helpers import add_workspace
from tests.test_conference_scheduling import _as, fixed_meeting

FEED_RE = re.compile(r'<code id="feed-url">https?://[^/]+(/calendar/([^<]+)\.ics)</code>')


def make_feed(client) -> tuple[str, str]:
    response = client.post("/account/calendar/new")
    assert response.status_code == 200
    match = FEED_RE.search(text(response))
    assert match, "the new address is shown"
    return match.group(1), match.group(2)


def uids(response) -> list[str]:
    return sorted(str(e["UID"]) for e in Calendar.from_ical(response.data).walk("VEVENT"))


def test_the_feed_lists_only_the_users_meetings(app, client):
    from tests.scheduling_helpers import get_meeting

    ws = add_workspace(app, title="工作区一")
    mine, _ = fixed_meeting(app, client, ws, days=10)
    other = add_workspace(app, title="工作区二")
    fixed_meeting(app, client, other, days=11)

    _as(client, ws.reps[0])
    profile = text(client.get("/account"))
    assert 'id="calendar-feed"' in profile
    upcoming = text(client.get("/account/calendar"))  # the in-portal notice of the invitation
    assert "第一次联席会议" in upcoming
    path, token = make_feed(client)
    client.post("/logout")
    response = client.get(path)  # no session needed: the token is the credential
    assert response.status_code == 200 and response.mimetype == "text/calendar"
    assert uids(response) == [get_meeting(app, mine).uid]
    with database(app) as session:
        feed = session.get(CalendarFeed, ws.reps[0].id)
        assert feed.token_hash == hashlib.sha256(token.encode()).hexdigest() and token not in feed.token_hash

    _as(client, ws.convener)  # the convener sees the meetings of the workspaces they convene
    path, _token = make_feed(client)
    assert uids(client.get(path)) == [get_meeting(app, mine).uid]
    assert "工作区一" not in text(client.get(f"/calendar/{_token}x.ics"))


def test_a_regenerated_revoked_or_wrong_token_gives_404(app, client):
    user = sign_in(app, client, Role.DEPARTMENT_REP)
    path, _token = make_feed(client)
    assert client.get(path).status_code == 200
    assert len(Calendar.from_ical(client.get(path).data).walk("VEVENT")) == 0
    new_path, _new = make_feed(client)
    assert client.get(path).status_code == 404
    assert client.get(new_path).status_code == 200
    assert count(app, CalendarFeed) == 1
    response = client.post("/account/calendar/revoke")
    assert response.status_code == 303
    assert client.get(new_path).status_code == 404
    assert client.get("/calendar/wrong-token.ics").status_code == 404
    assert client.get("/calendar/" + "a" * 300 + ".ics").status_code == 404
    assert count(app, CalendarFeed) == 0
    assert [len(audit_events(app, a)) for a in ("calendar_feed.created", "calendar_feed.regenerated",
                                                 "calendar_feed.revoked")] == [1, 1, 1]
    assert client.post("/account/calendar/revoke").status_code == 303  # nothing to revoke: no error
    assert "/account/calendar" in text(client.get("/account"))
    assert user.id


def test_an_inactive_users_feed_stops(app, client):
    user = sign_in(app, client, Role.LEADER)
    path, _token = make_feed(client)
    from tests.helpers import set_user

    set_user(app, user.id, active=False)
    assert client.get(path).status_code == 404
