"""Vendor names → commandpost names: slugs that are unique within their kind and stable per id."""

from __future__ import annotations

import re
import unicodedata

_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def slug(text: str, *, fallback: str = "x", max_length: int = 48) -> str:
    """Lower-case ASCII words joined by '-' (accents folded; 'Ops Team (EU)' → 'ops-team-eu')."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    out = _NOT_SLUG.sub("-", folded).strip("-")[:max_length].strip("-")
    return out or fallback


class Namer:
    """Gives each source id of one kind a unique slug, the same one every time it is asked.

    Two users both named "Alex" become ``alex`` and ``alex-2``; the id, not the name, is the key, so
    a rename in the source between two imports does not merge two people."""

    def __init__(self, fallback: str) -> None:
        self._fallback = fallback
        self._by_id: dict[str, str] = {}
        self._taken: set[str] = set()

    def name(self, source_id: str, text: str) -> str:
        if source_id in self._by_id:
            return self._by_id[source_id]
        base = slug(text, fallback=self._fallback)
        candidate, n = base, 1
        while candidate in self._taken:
            n += 1
            candidate = f"{base}-{n}"
        self._taken.add(candidate)
        self._by_id[source_id] = candidate
        return candidate

    def get(self, source_id: str) -> str | None:
        """The name already given to ``source_id``, or None (a reference to something not imported)."""
        return self._by_id.get(source_id)
