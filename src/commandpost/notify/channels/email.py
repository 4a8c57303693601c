"""Email over SMTP: plain text and HTML alternatives, the caller's subject, a stable Message-ID.

The Message-ID is derived from the idempotency key, so a message sent twice (a sender died
mid-send) carries the same Message-ID both times and mail systems can fold the copies. It is on
the org's own domain (``email_domain``, else the sender's, else the public URL's host): a made-up
right-hand side looks forged to spam filters and can collide with another sender's ids.

A page's ack and escalate links head the text (they open a confirmation page; only its button
acts, so a mail scanner prefetching links acknowledges nothing). ``Auto-Submitted:
auto-generated`` (RFC 3834) keeps vacation responders and auto-forwarders from answering a page,
and ``X-Auto-Response-Suppress: All`` asks the same of Exchange.

One thread per incident. Every email about incident N names the same parent,
``In-Reply-To: <incident-N@domain>`` and ``References: <incident-N@domain>``, and NO email
carries that id as its own Message-ID:
- the channel cannot know which email is a mailbox's first about the incident (an escalation's
  second level never saw level one's page; the team list gets the FYI, a person the page), and
  the Message-ID must stay the key's for the re-send folding above;
- Gmail drops a message whose Message-ID it already holds, so a "root" claimed by two emails
  (a page and a notice to the same person) would silently lose one — for a pager, the worst case;
- clients thread on the shared reference without the parent being present: mutt and Thunderbird
  (the JWZ algorithm) put the messages under a dummy parent; Gmail threads messages that share a
  reference and the same subject (re-pages and escalations of one incident share the subject;
  notices with another subject may stand apart there).
- Outlook/Exchange ignore In-Reply-To/References for conversations: they group by
  ``Thread-Index`` (its 16-byte GUID, here derived from the incident) or else by ``Thread-Topic``;
  both are set per incident, so Outlook's conversation view shows one conversation too.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from urllib.parse import urlsplit

from commandpost.notify.channels.base import Outbound, clean, one_line
from commandpost.notify.rules import Delivery, Outcome

SUBJECT_LIMIT = 200
_URL = re.compile(r"https?://[^\s<>\"']+")
_DOMAIN = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")
ACTION_LINKS = (("ack_url", "Acknowledge"), ("escalate_url", "Escalate"), ("confirm_url", "Confirm"))
UNSUBSCRIBE = "unsubscribe_url"
"""A status page subscriber's link: at the foot of the email and in ``List-Unsubscribe`` (RFC 2369)."""
FILETIME_EPOCH = 11_644_473_600  # seconds from 1601-01-01 (Windows FILETIME) to 1970-01-01


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    host: str
    port: int = 25
    sender: str = "commandpost@localhost"
    starttls: bool = False
    username: str = ""
    password: str = ""
    timeout: float = 10.0
    domain: str = ""
    """Of Message-IDs and thread ids; empty: the sender's domain (see :func:`message_domain`)."""


def message_domain(configured: str, sender: str, public_url: str = "") -> str:
    """The configured domain, else the sender address's (unless ``localhost``), else the public URL's host."""
    _local, at, sender_domain = parseaddr(sender)[1].rpartition("@")
    sender_domain = sender_domain if at else ""
    public_host = (urlsplit(public_url).hostname or "") if public_url else ""
    for candidate in (configured, sender_domain, public_host):
        if candidate and candidate.lower() != "localhost" and _DOMAIN.fullmatch(candidate):
            return candidate.lower()
    return "localhost"


def _links(message: Outbound) -> list[tuple[str, str]]:
    """(label, URL) of the page's one-tap links present in the payload, http(s) only."""
    found = []
    for name, label in ACTION_LINKS:
        value = message.payload.get(name)
        if isinstance(value, str) and _URL.fullmatch(value):
            found.append((label, value))
    return found


def _unsubscribe(message: Outbound) -> str | None:
    value = message.payload.get(UNSUBSCRIBE)
    return value if isinstance(value, str) and _URL.fullmatch(value) else None


def _thread_index(root: str, now: datetime) -> str:
    """Outlook's conversation index ([MS-OXOMSG] 2.2.1.3): 0x01, the top 40 bits of the FILETIME of
    ``now``, and a GUID — here derived from the incident's thread id, so all its emails share it."""
    filetime = int((now.timestamp() + FILETIME_EPOCH) * 10_000_000)
    header = b"\x01" + (filetime >> 24).to_bytes(5, "big") + hashlib.sha256(root.encode()).digest()[:16]
    return base64.b64encode(header).decode()


def _html(message: Outbound) -> str:
    def linkify(line: str) -> str:
        escaped = html.escape(line)
        return _URL.sub(lambda m: f'<a href="{m.group(0)}">{m.group(0)}</a>', escaped)

    actions = "".join(
        f'<a href="{html.escape(url)}" style="font-weight:bold;margin-right:16px">{label}</a>'
        for label, url in _links(message)
    )
    paragraphs = "".join(
        f'<p style="margin:0 0 6px">{linkify(line) or "&nbsp;"}</p>'
        for line in clean(message.body).splitlines()
    )
    if actions:
        paragraphs = f'<p style="margin:0 0 12px">{actions}</p>{paragraphs}'
    link = message.payload.get("url")
    button = (
        f'<p><a href="{html.escape(link)}" style="font-weight:bold">Open incident</a></p>'
        if isinstance(link, str) and link.startswith(("https://", "http://"))
        else ""
    )
    return (
        '<!doctype html><html><body style="font-family:sans-serif">'
        f'<h2 style="margin:0 0 12px">{html.escape(one_line(clean(message.subject), SUBJECT_LIMIT))}</h2>'
        f"{paragraphs}{button}"
        + (
            f'<p><a href="{html.escape(leave)}">Unsubscribe</a></p>'
            if (leave := _unsubscribe(message))
            else ""
        )
        + f'<p style="color:#666;font-size:12px">commandpost · {html.escape(message.key)}</p>'
        "</body></html>"
    )


def thread_id(incident_id: int, domain: str) -> str:
    """The Message-ID every email about the incident refers to (and none carries: module docstring)."""
    return f"<incident-{incident_id}@{domain}>"


def build(message: Outbound, *, sender: str, now: datetime, domain: str = "") -> EmailMessage:
    domain = domain or message_domain("", sender)
    email = EmailMessage()
    email["Subject"] = one_line(clean(message.subject), SUBJECT_LIMIT)
    email["From"] = sender
    email["To"] = message.destination
    email["Date"] = format_datetime(now)
    email["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()[:32]}@{domain}>"
    if message.incident_id is not None:
        root = thread_id(message.incident_id, domain)
        email["In-Reply-To"] = root
        email["References"] = root
        email["Thread-Topic"] = f"commandpost incident {message.incident_id}"
        email["Thread-Index"] = _thread_index(root, now)
    email["Auto-Submitted"] = "auto-generated"
    email["X-Auto-Response-Suppress"] = "All"
    email["X-Commandpost-Key"] = one_line(message.key, 255)
    if message.severity:
        email["X-Commandpost-Severity"] = message.severity
    head = "".join(f"{label}: {url}\n" for label, url in _links(message))
    leave = _unsubscribe(message)
    if leave:
        email["List-Unsubscribe"] = f"<{leave}>"
    foot = f"\nUnsubscribe: {leave}\n" if leave else ""
    email.set_content((f"{head}\n" if head else "") + clean(message.body) + "\n" + foot)
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
            email = build(message, sender=cfg.sender, now=now, domain=cfg.domain)
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
