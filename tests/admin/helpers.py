"""Helpers shared by the admin page tests (tests/admin/test_admin_*.py)."""

import datetime

import models

OK, MOVED, DENIED, LOGIN, BAD = 200, 303, 404, 302, 400
HX = {"HX-Request": "true"}
NEW_PASSWORD = "quiet lantern meadow 42"

COHORT = {
    "name": "2031届",
    "confirm_deadline": "2031-03-17",
    "recheck_start": "2031-03-24",
    "recheck_end": "2031-03-25",
    "timezone": "Asia/Shanghai",
}
COLLEGE = {"code": "law", "name": "法学院", "office_contact": "法学院办公室 C301"}


def other_client(app):
    """A second browser (another person), in English."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def html(response):
    return response.get_data(as_text=True)


def user(email):
    return models.User.get(models.User.email == email)


def events(action):
    return list(
        models.AuditEvent.select().where(models.AuditEvent.action == action).order_by(models.AuditEvent.id)
    )


def post(client, path, data, htmx=False, page=None):
    data = dict(data, csrf_token=client.csrf(page))
    return client.post(path, data=data, headers=HX if htmx else {})


def is_fragment(response, start="<tr"):
    body = html(response).lstrip()
    return body.startswith(start) and "<html" not in body


def make_mail(to, status="sent", minutes_ago=0, **fields):
    at = models.utcnow() - datetime.timedelta(minutes=minutes_ago)
    values = dict(
        to=to,
        subject=f"Subject for {to}",
        body_text=f"Hello {to}\n\nhttp://localhost/activate/secret-{to}\n",
        body_html="<p>Hello</p>",
        kind="activate",
        status=status,
        created_at=at,
    )
    values.update(fields)
    return models.OutboxMail.create(**values)
