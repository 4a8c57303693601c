"""Token scopes and what each allows. Pure logic."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Scope = Literal["read", "responder", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "responder", "admin")
_RANK: dict[str, int] = {s: i for i, s in enumerate(SCOPES)}


SERVICE_ACCOUNT_PREFIX = "svc:"
"""A token for automation speaks for ``svc:NAME`` — never for a made-up person."""
_SERVICE_ACCOUNT = re.compile(r"svc:[a-z0-9][a-z0-9._-]{0,59}")


def is_service_account(handle: str) -> bool:
    return handle.startswith(SERVICE_ACCOUNT_PREFIX)


def valid_service_account(handle: str) -> bool:
    return _SERVICE_ACCOUNT.fullmatch(handle) is not None


def scope_allows(held: str, needed: str) -> bool:
    """``admin`` ⊃ ``responder`` ⊃ ``read``."""
    return _RANK.get(held, -1) >= _RANK[needed]


@dataclass(frozen=True)
class Principal:
    """Who is calling: the person a token belongs to and the token's scope."""

    person: str
    scope: str
    token_id: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.scope == "admin"

    def allows(self, needed: str) -> bool:
        return scope_allows(self.scope, needed)
