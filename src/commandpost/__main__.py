"""``python -m commandpost`` — the same as the ``commandpost`` command."""

from commandpost.cli_root import main

main()
