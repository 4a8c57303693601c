"""``python -m commandpost`` — the same as the ``commandpost`` command."""

from commandpost.cli import main

main()
