"""The server's public URL: one source for every link and intake URL, whichever process prints it.

``serve`` settles it (:func:`settle`): ``COMMANDPOST_PUBLIC_URL`` when set, else
``http://<host>:<port>`` from its own ``--host``/``--port`` — and puts it in the app's settings (page
links, intake URLs over the API, pages sent by the engine) and in the database (:func:`record`,
table ``server_setting``). A process that does not serve reads it from there (:func:`base_url`):
``commandpost integrations list`` with the database URL, and any notification decided outside the
app's own settings (:func:`commandpost.incidents.notices.incident_url`). So a CLI never prints
the 8080 of its own defaults while the server listens on 56637.

With several replicas behind a load balancer set ``COMMANDPOST_PUBLIC_URL`` on each (the balancer's
address): otherwise the last replica to start records its own address.
"""

from __future__ import annotations

import socket
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from commandpost.db.base import Base
from commandpost.db.upsert import insert_for

if TYPE_CHECKING:
    from commandpost.settings import Settings

PUBLIC_URL = "public_url"
_WILDCARDS = frozenset({"", "0.0.0.0", "::", "[::]"})


class ServerSetting(Base):
    """What the serving process settled at start, for the processes that do not serve."""

    __tablename__ = "server_setting"

    name: Mapped[str] = mapped_column(String(50), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


def default_public_url(host: str, port: int) -> str:
    """``http://<host>:<port>`` as a link can use it: a wildcard address (``0.0.0.0``, ``::``) is no
    place to send a browser, so it becomes this machine's name; an IPv6 literal gets its brackets."""
    name = host.strip()
    if name in _WILDCARDS:
        name = socket.gethostname() or "localhost"
    if ":" in name and not name.startswith("["):
        name = f"[{name}]"
    return f"http://{name}:{port}"


def settle(settings: Settings) -> Settings:
    """``settings`` with ``public_url`` set: as configured (no trailing slash), else from host and port."""
    configured = settings.public_url.strip().rstrip("/")
    return settings.model_copy(
        update={"public_url": configured or default_public_url(settings.host, settings.port)}
    )


def record(session: Session, url: str, *, now: datetime) -> None:
    """Store the serving URL (the last server to start wins). Flushes, never commits."""
    table = ServerSetting.__table__
    value = url.strip().rstrip("/")
    statement = insert_for(session, table).values(name=PUBLIC_URL, value=value, updated_at=now)
    session.execute(
        statement.on_conflict_do_update(index_elements=["name"], set_={"value": value, "updated_at": now})
    )


def recorded(session: Session) -> str | None:
    """The URL the last ``serve`` recorded (None: no server has started on this database)."""
    value = session.scalar(select(ServerSetting.value).where(ServerSetting.name == PUBLIC_URL))
    return value or None


def base_url(session: Session, settings: Settings) -> str:
    """Where links point: the serving URL recorded in the database, else ``settings.base_url()``."""
    return recorded(session) or settings.base_url()
