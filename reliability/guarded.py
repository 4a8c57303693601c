"""``python -m reliability.guarded serve …``: the ``commandpost`` CLI with an outbound-traffic guard.

An audit hook sees every ``socket.connect`` and ``socket.getaddrinfo`` the process makes through
Python (the notify sender, SNS certificate fetches, SMTP). Anything that is not loopback is written
to ``RELIABILITY_CONNECT_LOG`` and refused before a packet leaves, so a check can never send
traffic off this machine, and the SSRF check can prove no such connection was even attempted.
PostgreSQL (libpq, 127.0.0.1) does not pass through Python sockets and is not affected.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from typing import Any

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


def is_loopback(host: Any) -> bool:
    if host is None:
        return True
    text = host.decode() if isinstance(host, bytes) else str(host)
    text = text.strip("[]").split("%", 1)[0].lower()
    if text in LOOPBACK_NAMES or text == "":
        return True
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # ::ffff:127.0.0.1 is 127.0.0.1
    return bool(address.is_loopback or (mapped is not None and mapped.is_loopback))


def install() -> None:
    """Refuse (and log to ``$RELIABILITY_CONNECT_LOG``) any non-loopback connect or name lookup. The log
    path is read at each event, so forked servers (see :mod:`reliability.zygote`) each log to their own."""

    def record(line: str) -> None:
        path = os.environ.get("RELIABILITY_CONNECT_LOG")
        if path:
            with open(path, "a") as log:
                log.write(line + "\n")
        else:
            sys.stderr.write(f"reliability guard: {line}\n")

    def hook(event: str, args: tuple[Any, ...]) -> None:
        if event == "socket.connect":
            sock, address = args
            if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(address[0]):
                record(f"connect {address[0]} {address[1]}")
                raise ConnectionRefusedError(f"reliability guard: no traffic to {address[0]}")
        elif event == "socket.getaddrinfo":
            host = args[0]
            if not is_loopback(host):
                record(f"resolve {host!r}")
                raise socket.gaierror(socket.EAI_NONAME, f"reliability guard: not resolving {host!r}")

    sys.addaudithook(hook)


def main() -> None:
    """``python -m reliability.guarded serve …`` (the CLI) or ``… --module NAME ARGS…`` (any module)."""
    install()
    if sys.argv[1:2] == ["--module"]:
        import runpy

        name = sys.argv[2]
        sys.argv = [name, *sys.argv[3:]]
        runpy.run_module(name, run_name="__main__", alter_sys=True)
        return
    from commandpost.cli import main as cli_main

    sys.argv = ["commandpost", *sys.argv[1:]]
    cli_main()


if __name__ == "__main__":
    main()
