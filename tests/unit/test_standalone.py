"""The repository stands alone: nothing in it names a path outside the checkout.

A fresh clone in an empty folder must pass ``make test`` and make sense to a reader, so no code,
test, benchmark, reliability check, build file or doc may reach beside or above the repository
(a sibling folder, the developer's workplace, an absolute home path).
"""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ["src", "tests", "bench", "reliability", "docs", ".ci", "examples", "Makefile", "README.md"]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".toml", ".json", ".jsonc", ".txt", ".html", ".j2", ".sh", ""}

# Built from pieces so this file does not match itself.
SIBLING = "sha" + "red"
FORBIDDEN = [
    (
        re.compile(r"(?<![\w-])" + SIBLING + r"/(payloads|seed|notes|hooks|DESIGN\.md)"),
        "the workplace's folder",
    ),
    (re.compile(r"\b(REPO|ROOT|HERE)\.parent\b"), "a path above the repository root"),
    (re.compile(r"(?<![\w.])/(work|home|root)/[\w.-]"), "an absolute path on a developer's machine"),
]
RELATIVE = re.compile(r"(?:\.\./)+[\w.-]+")


def _files() -> list[Path]:
    out: list[Path] = []
    for name in SCANNED:
        path = REPO / name
        if path.is_file():
            out.append(path)
        elif path.is_dir():
            out.extend(p for p in path.rglob("*") if p.is_file() and p.suffix in TEXT_SUFFIXES)
    own = Path(__file__).resolve()
    return [
        p
        for p in out
        if p != own and not any(part == "__pycache__" or part.endswith(".egg-info") for part in p.parts)
    ]


def _escapes(file: Path, relative: str) -> bool:
    """A ``../`` path escapes when, read from the file's folder (as a link is), it leaves the repository."""
    target = (file.parent / relative).resolve()
    return target != REPO and REPO not in target.parents


def test_no_file_names_a_path_outside_the_repository() -> None:
    found = []
    for file in _files():
        try:
            text = file.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # a deliberately broken fixture
        for lineno, line in enumerate(text.splitlines(), 1):
            for pattern, what in FORBIDDEN:
                if match := pattern.search(line):
                    found.append(f"{file.relative_to(REPO)}:{lineno}: {what}: {match.group(0)!r}")
            for match in RELATIVE.finditer(line):
                if _escapes(file, match.group(0)):
                    found.append(
                        f"{file.relative_to(REPO)}:{lineno}: leaves the repository: {match.group(0)!r}"
                    )
    assert not found, "paths outside the repository:\n" + "\n".join(found)


def test_the_check_sees_an_escape(tmp_path: Path) -> None:
    """The scanner itself: a sibling-folder path and a ``../..`` link are both caught."""
    line = "see ../" + SIBLING + "/seed/guide.md"
    assert any(p.search(line) for p, _ in FORBIDDEN)
    assert _escapes(REPO / "docs" / "x.md", "../../elsewhere.md")
    assert not _escapes(REPO / "docs" / "x.md", "../README.md")
