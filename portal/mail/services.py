"""Outgoing messages. Each one is stored in the outbox; SMTP delivers email when configured.

There is no SMS gateway: text messages to phones stay in the outbox, where an admin can read them.
"""
from __future__ import annotations

import smtplib
from email.message import EmailMessage

from flask import current_app, url_for

from portal.extensions import db
from portal.timeutil import utcnow

from .models import OutboxAttachment, OutboxMessage


def external_url(endpoint: str, **values) -> str:
    """An absolute link for a message: PORTAL_BASE_URL when configured, else the current request's host."""
    base = current_app.config.get("PORTAL_BASE_URL", "").rstrip("/")
    if base:
        return base + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


def send_message(recipient: str, subject: str, body: str,
                 attachments: list[tuple[str, str, bytes]] | None = None) -> OutboxMessage:
    """Store and (for email, with a server) deliver a message. attachments: (filename, content type, data).

    A text message to a phone carries no attachments; they stay readable in the outbox.
    """
    channel = "email" if "@" in recipient else "sms"
    message = OutboxMessage(channel=channel, recipient=recipient, subject=subject, body=body)
    for filename, content_type, data in attachments or []:
        message.attachments.append(OutboxAttachment(filename=filename, content_type=content_type, data=data))
    db.session.add(message)
    cfg = current_app.config
    if channel == "email" and cfg.get("MAIL_SERVER"):
        try:
            _smtp_send(cfg, recipient, subject, body, attachments or [])
            message.status, message.sent_at = "sent", utcnow()
        except (OSError, smtplib.SMTPException) as exc:  # delivery failure must not lose the message
            current_app.logger.warning("mail to %s failed: %s", recipient, exc)
            message.status, message.error = "failed", str(exc)[:1000]
    db.session.flush()
    return message


def _smtp_send(cfg, recipient: str, subject: str, body: str, attachments) -> None:
    email = EmailMessage()
    email["From"] = cfg["MAIL_SENDER"]
    email["To"] = recipient
    email["Subject"] = subject
    email.set_content(body)
    for filename, content_type, data in attachments:
        main, _slash, rest = content_type.partition("/")
        subtype, *params = [part.strip() for part in rest.split(";")]
        extra = dict(p.split("=", 1) for p in params if "=" in p)  # e.g. method=REQUEST for text/calendar
        if main == "text":
            email.add_attachment(data.decode("utf-8"), subtype=subtype, filename=filename, params=extra)
        else:
            email.add_attachment(data, maintype=main, subtype=subtype, filename=filename, params=extra)
    smtp_cls = smtplib.SMTP_SSL if cfg.get("MAIL_USE_SSL") else smtplib.SMTP
    with smtp_cls(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=10) as smtp:
        if cfg.get("MAIL_USE_TLS") and not cfg.get("MAIL_USE_SSL"):
            smtp.starttls()
        if cfg.get("MAIL_USERNAME"):
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(email)
