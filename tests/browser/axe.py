"""axe-core (Deque's accessibility engine, MPL-2.0) for the browser tests: the registry's tarball of a
pinned version, checked against the integrity hash the npm registry publishes for it (what a
package-lock records), cached outside the checkout so a run downloads it once.

Not vendored: it is a test tool the pages never serve. Without the network on a first run, the tests
that need it fail saying so (a CI machine fetches it on its first browser test)."""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
from pathlib import Path

import pytest

VERSION = "4.12.1"
TARBALL = f"https://registry.npmjs.org/axe-core/-/axe-core-{VERSION}.tgz"
# `npm view axe-core@4.12.1 dist.integrity`
INTEGRITY = "sha512-s7iGf5GaVMxEG0ENN9x+xTr7GFZCb1ZP/1uATUpCEK2X78nDB3RwbtFCo9pGAf9ru+VwoQ464DkaLEeRM08wJA=="


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "commandpost-tests"


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def source() -> str:
    """axe.min.js of the pinned version: from the cache when its tarball still matches the hash, else
    downloaded (and then checked) first."""
    tarball = cache_dir() / f"axe-core-{VERSION}.tgz"
    data = tarball.read_bytes() if tarball.exists() else b""
    if _integrity(data) != INTEGRITY:
        try:
            with urllib.request.urlopen(TARBALL, timeout=60) as response:
                data = response.read()
        except OSError as error:
            pytest.fail(
                f"could not download axe-core {VERSION} from {TARBALL} ({error}): the accessibility "
                f"test needs it once, then uses the copy cached in {tarball.parent}",
                pytrace=False,
            )
        if _integrity(data) != INTEGRITY:
            pytest.fail(
                f"{TARBALL} does not match its registry integrity hash {INTEGRITY} (got "
                f"{_integrity(data)}): refusing to run it",
                pytrace=False,
            )
        tarball.parent.mkdir(parents=True, exist_ok=True)
        partial = tarball.with_suffix(".part")
        partial.write_bytes(data)
        partial.replace(tarball)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile("package/axe.min.js")
        assert member is not None, "axe-core's tarball has no package/axe.min.js"
        return member.read().decode()
