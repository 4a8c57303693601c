"""commandpost — incident response the SRE way."""

from __future__ import annotations


def __getattr__(name: str) -> str:
    """``__version__``: pyproject.toml's version as installed, the one place it is written.

    Read on first use (PEP 562) because importlib.metadata costs ``commandpost --help`` about 70 ms.
    """
    if name == "__version__":
        from importlib.metadata import version

        return version("commandpost")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
