"""Email over SMTP: plain text and HTML alternatives, the caller's subject, a stable Message-ID.

The Message-ID is derived from the idempotency key, so a message sent twice (a sender died
mid-send) carries the same Message-ID both times and mail systems can fold the copies.
"""

from __future__ import annotations

import hashlib
import html
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

from commandpost.notify.channels.base import Outbound, one_line
from commandpost.notify.rules import Delivery, Outcome

SUBJECT_LIMIT = 200
_URL = re.compile(r"https?://[^\s<>\"']+")


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "commandpost@localhost"
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0


def _html(message: Outbound) -> str:
    def linkify(line: str) -> str:
        escaped = html.escape(line)
        return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)

    paragraphs = "".join(
        f'<p style="margin:0 0 6px">{linkify(line) or "&nbsp;"}</p>' for line in message.body.splitlines()
    )
    link = message.payload.get("url")
    button = (
        f'<p><a href="{html.escape(link)}" style="font-weight:bold">Open incident</a></p>'
        if isinstance(link, str) and link.startswith(("https://", "http://"))
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f'<h2 style="margin:0 0 12px">{html.escape(one_line(message.subject, SUBJECT_LIMIT))}</h2>'
        f"{paragraphs}{button}"
        f'<p style="color:#666;font-size:12px">commandpost · {html.escape(message.key)}</p>'
        "</body></html>"
    )


def build(message: Outbound, *, sender: str, now: datetime) -> EmailMessage:
    email = EmailMessage()
    email["Subject"] = one_line(message.subject, SUBJECT_LIMIT)
    email["From"] = sender
    email["To"] = message.destination
    email["Date"] = format_datetime(now)
    email["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@commandpost>"
    email["X-Commandpost-Key"] = one_line(message.key, 255)
    if message.severity:
        email["X-Commandpost-Severity"] = message.severity
    email.set_content(message.body + "\n")
    email.add_alternative(_html(message), subtype="html")
    return email


class EmailChannel:
    def __init__(self, config: SmtpConfig) -> None:
        self.config = config

    def send(self, message: Outbound, now: datetime) -> Delivery:
        cfg = self.config
        if not cfg.host:
            return Delivery(
                "dead", error="email is not configured: set COMMANDPOST_SMTP_HOST (and _PORT, _FROM)"
            )
        where = f"SMTP {cfg.host}:{cfg.port}"
        try:
            email = build(message, sender=cfg.sender, now=now)
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout) as smtp:
                if cfg.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if cfg.username:
                    smtp.login(cfg.username, cfg.password)
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = sorted({code for code, _msg in exc.recipients.values()})
            return Delivery(
                "dead", status_code=codes[0] if codes else None, error=f"{where} refused the recipient"
            )
        except smtplib.SMTPResponseException as exc:
            outcome: Outcome = "retry" if 400 <= exc.smtp_code < 500 else "dead"
            text = (
                exc.smtp_error.decode("utf-8", "replace")
                if isinstance(exc.smtp_error, bytes)
                else str(exc.smtp_error)
            )
            return Delivery(outcome, status_code=exc.smtp_code, error=f"{where}: {exc.smtp_code} {text}")
        except (smtplib.SMTPException, OSError) as exc:
            return Delivery("retry", error=f"{where}: {type(exc).__name__}: {exc}")
        except ValueError as exc:  # an address the email package cannot put in a header
            return Delivery("dead", error=f"cannot build the email to {message.destination!r}: {exc}")
        return Delivery("delivered", status_code=250)
