"""commandpost — incident response the SRE way."""

__version__ = "0.1.0"
