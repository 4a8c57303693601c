"""Request IDs: a client's sane ID is kept; anything else, or none, gets a new one — 32 hex digits,
unique, and different in a forked worker (``serve --workers N``) from its parent's."""

from __future__ import annotations

import os
import re

from commandpost import requestid


def test_a_sane_client_id_is_kept_and_a_hostile_one_replaced() -> None:
    assert requestid.accept(b"nginx-7f3a:1") == "nginx-7f3a:1"
    for hostile in (b"", b"a b", b'"quoted"', b"nul\x00", b"\x1b[2J", b"x" * 129, "é".encode()):
        made = requestid.accept(hostile)
        assert re.fullmatch(r"[0-9a-f]{32}", made), hostile


def test_made_ids_are_32_hex_digits_and_do_not_repeat() -> None:
    made = {requestid.of([]) for _ in range(20_000)}
    assert len(made) == 20_000
    assert all(re.fullmatch(r"[0-9a-f]{32}", m) for m in made)


def test_a_forked_child_makes_other_ids_than_its_parent() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ID, then out without running the test session's exit code
        os.write(write, requestid.accept(None).encode())
        os._exit(0)
    os.close(write)
    parent = requestid.accept(None)
    os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        child = pipe.read().decode()
    assert re.fullmatch(r"[0-9a-f]{32}", child) and child != parent
