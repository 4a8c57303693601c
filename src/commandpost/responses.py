"""What every API response model shares: it is read from an object's attributes (an ORM row, a dataclass).

A model that is a plain copy of its object has no constructor of its own: ``Model.model_validate(row)``.
A model with computed fields has one, ``Model.of(row, …)``: it computes only those fields and passes them
with the row through :func:`computed`, so every other field is still read from the row's attributes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Out(BaseModel):
    """A response model validated from attributes (``from_attributes``)."""

    model_config = ConfigDict(from_attributes=True)


class _Computed:
    """``row`` seen through ``values``: a name in ``values`` hides the row's attribute of that name."""

    def __init__(self, row: object, values: dict[str, Any]) -> None:
        self._row = row
        self._values = values

    def __getattr__(self, name: str) -> Any:
        if name in self._values:
            return self._values[name]
        return getattr(self._row, name)


def computed(row: object, **values: Any) -> object:
    """What ``Model.model_validate`` reads a response from: ``values`` for the computed fields, ``row``
    for the rest."""
    return _Computed(row, values)
