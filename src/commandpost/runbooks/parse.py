"""Markdown runbook → :class:`Runbook`, via python-frontmatter and markdown-it-py tokens.

Nothing here reads Markdown by hand: the front matter is split by python-frontmatter's YAML
handler and read by the ops loader's line-aware YAML reader; the body is walked as
markdown-it-py tokens, whose ``map`` gives each block's line. Parsing never raises for a
bad file: what cannot be read becomes a :class:`ParseProblem` (lint rule RB000).

Tolerance, so a human-written file still counts: a ``##`` heading is a section when its head
(before "—", ":" or "(") names one (``## 3. Mitigate — first stop the bleeding``, ``## Verify``),
or, failing a name, when it is numbered 0–6 (``## 3. Stop the bleeding``). Other ``##``
headings stay inside the section before them, so no step is ever dropped.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import frontmatter
import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token

from commandpost.policy.yamlsource import parse_yaml
from commandpost.runbooks.document import Caution, Heading, Item, ParseProblem, Runbook, Section, Step

_MD = MarkdownIt("commonmark")
_CHECKBOX = re.compile(r"^\[( |x|X)\]\s+")
_NUMBERED = re.compile(r"^\s*(\d)\s*[.):]\s*(.*)$")
_HEAD_END = re.compile(r"\s[—–-]\s|:|\(|\s—|—")
_KEYWORDS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (0, ("symptom",)),
    (1, ("detect",)),
    (2, ("triage",)),
    (3, ("mitigat",)),
    (4, ("verif",)),
    (5, ("comms", "communicat")),
    (6, ("postmortem", "post-mortem", "post mortem")),
)
_WARNING = re.compile(r"⚠|\bmust never\b|\bnever do\b", re.IGNORECASE)
_SPACES = re.compile(r"\s+")
HASH_LENGTH = 6


def is_warning(text: str) -> bool:
    """A warning line: "⚠️", "must never" or "never do" (guide §3-2's "What you must never do")."""
    return bool(_WARNING.search(text))


def normalize(text: str) -> str:
    return _SPACES.sub(" ", text).strip().lower()


def text_hash(text: str) -> str:
    return hashlib.sha256(normalize(text).encode()).hexdigest()[:HASH_LENGTH]


def step_id(section: int, position: int, text: str) -> str:
    """``3.2-a1b2c3``: the section, the position in it, and a short hash of the normalized text."""
    return f"{section}.{position}-{text_hash(text)}"


def match_heading(text: str) -> tuple[int | None, int | None]:
    """``(section number, number as written)`` for a ``##`` heading; the name wins over the number."""
    numbered = _NUMBERED.match(text)
    written = int(numbered.group(1)) if numbered else None
    rest = numbered.group(2) if numbered else text
    head = _HEAD_END.split(rest, maxsplit=1)[0].lower()
    for number, words in _KEYWORDS:
        if any(word in head for word in words):
            return number, written
    if written is not None and written <= 6:
        return written, written
    return None, written


# ---------------------------------------------------------------- files


def parse_file(path: Path, *, display: str | None = None) -> Runbook:
    """Read and parse one file; an unreadable file is a runbook with one RB000 problem."""
    shown = display or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return _unreadable(shown, path.stem, 1, f"cannot read the file: {exc.strerror or exc}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return _unreadable(shown, path.stem, line, f"not UTF-8 text ({exc.reason} at byte {exc.start})")
    return parse_text(text.removeprefix("\ufeff"), path=shown, slug=path.stem)


def _unreadable(path: str, slug: str, line: int, message: str) -> Runbook:
    return Runbook(
        slug=slug,
        path=path,
        text="",
        content_hash="",
        meta={},
        meta_lines={},
        body_line=1,
        title=None,
        title_line=None,
        headings=(),
        sections=(),
        problems=(ParseProblem(line, message),),
        front_matter_ok=False,
    )


@lru_cache(maxsize=256)
def parse_text(text: str, *, path: str, slug: str, front_matter: bool = True) -> Runbook:
    """Parse a runbook's text (cached: a stored revision's runbooks are parsed once per process).

    ``front_matter=False`` parses a body alone (the ops model keeps the body without its YAML).
    """
    problems: list[ParseProblem] = []
    meta: dict[str, Any] = {}
    meta_lines: dict[str, int] = {}
    meta_ok = False
    body, body_start = text, 0
    if front_matter:
        split = _split(text)
        if split is None:
            problems.append(
                ParseProblem(
                    1,
                    "no front matter: start the file with '---', then owner, last_updated, slo, "
                    "severity, alerts, then '---'",
                )
            )
        else:
            yaml_text, yaml_offset, body, body_start = split
            meta_ok = _read_meta(yaml_text, yaml_offset, meta, meta_lines, problems)
    first_body_line = text[:body_start].count("\n")
    walker = _Walker(first_body_line)
    walker.walk(_MD.parse(body))
    return Runbook(
        slug=slug,
        path=path,
        text=text,
        content_hash=hashlib.sha256(text.encode()).hexdigest(),
        meta=meta,
        meta_lines=meta_lines,
        body_line=first_body_line + 1,
        title=walker.title,
        title_line=walker.title_line,
        headings=tuple(walker.headings),
        sections=tuple(s.freeze() for s in walker.sections),
        problems=tuple(problems),
        end_line=max(1, len(text.splitlines())),
        front_matter_ok=meta_ok,
    )


def _split(text: str) -> tuple[str, int, str, int] | None:
    """``(yaml, yaml line offset, body, body start index)`` or None without a ``---`` block."""
    handler = frontmatter.YAMLHandler()
    boundary = handler.FM_BOUNDARY
    opening = boundary.match(text) if boundary else None
    if opening is None:
        return None
    try:
        yaml_text, body = handler.split(text)
    except ValueError:
        return None
    return yaml_text, text[: opening.end()].count("\n"), body, len(text) - len(body)


def _read_meta(
    yaml_text: str, offset: int, meta: dict[str, Any], lines: dict[str, int], problems: list[ParseProblem]
) -> bool:
    try:
        parsed, yaml_problems = parse_yaml(yaml_text, line_offset=offset)
    except yaml.YAMLError as exc:  # the reader refuses control characters before parsing starts
        position = exc.position if isinstance(exc, yaml.reader.ReaderError) else 0
        line = yaml_text[:position].count("\n") + 1 + offset
        problems.append(ParseProblem(line, f"front matter: not readable as YAML: {_reason(exc)}"))
        return False
    problems.extend(ParseProblem(p.line, f"front matter: {p.message}") for p in yaml_problems)
    if parsed is None:
        return False
    data = parsed.data if parsed.data is not None else {}
    if not isinstance(data, dict):
        problems.append(ParseProblem(parsed.first_line, "front matter must be a mapping of keys"))
        return False
    meta.update({str(k): v for k, v in data.items()})
    lines.update({str(path[0]): line for path, line in parsed.lines.items() if len(path) == 1})
    return True


def _reason(exc: yaml.YAMLError) -> str:
    if isinstance(exc, yaml.reader.ReaderError):
        return f"{exc.reason} (character #x{exc.character:04x})"
    return str(exc).splitlines()[0]


# ---------------------------------------------------------------- the body


@dataclass
class _Step:
    section: int
    position: int
    text: str
    line: int
    level: int
    command: str | None
    fenced: bool
    checked: bool
    cautions: list[Caution] = field(default_factory=list)

    @property
    def id(self) -> str:
        return step_id(self.section, self.position, self.text)

    def freeze(self) -> Step:
        return Step(
            id=self.id,
            section=self.section,
            position=self.position,
            text=self.text,
            line=self.line,
            command=self.command,
            warning=is_warning(self.text),
            checked=self.checked,
            cautions=tuple(self.cautions),
        )


@dataclass
class _Section:
    number: int
    heading: str
    line: int
    steps: list[_Step] = field(default_factory=list)
    items: list[Item] = field(default_factory=list)
    cautions: list[Caution] = field(default_factory=list)

    def freeze(self) -> Section:
        return Section(
            number=self.number,
            heading=self.heading,
            line=self.line,
            steps=tuple(s.freeze() for s in self.steps),
            items=tuple(self.items),
            cautions=tuple(self.cautions),
        )


class _Walker:
    """One pass over the token stream, tracking the current section and the step a warning follows."""

    def __init__(self, line_offset: int) -> None:
        self.offset = line_offset
        self.title: str | None = None
        self.title_line: int | None = None
        self.headings: list[Heading] = []
        self.sections: list[_Section] = []
        self.current: _Section | None = None
        self.last_step: _Step | None = None
        self.closed_step: _Step | None = None  # the last item of a list that just closed, if a step

    def line(self, token: Token) -> int:
        return (token.map[0] if token.map else 0) + self.offset + 1

    def walk(self, tokens: list[Token]) -> None:
        i = 0
        while i < len(tokens):
            token = tokens[i]
            after_list, self.closed_step = self.closed_step, None
            if token.type == "heading_open":
                self._heading(token, tokens[i + 1])
                i += 3
                continue
            if token.type == "list_item_open":
                self._list_item(tokens, i)
            elif token.type == "bullet_list_close" or token.type == "ordered_list_close":
                self.closed_step = self.last_step if token.level == 0 else None
            elif token.type in ("fence", "code_block") and token.level == 0:
                self._loose_block(token, after_list)
            elif token.type == "paragraph_open" and token.level == 0:
                self._text_block(tokens[i + 1].content, self.line(token), tokens[i + 1])
            i += 1

    def _heading(self, token: Token, inline: Token) -> None:
        text = inline.content.strip()
        line = self.line(token)
        if token.tag == "h1" and self.title is None:
            self.title, self.title_line = text.removeprefix("Runbook:").strip() or text, line
            return
        if token.tag != "h2":
            return
        number, written = match_heading(text)
        self.headings.append(Heading(text=text, line=line, number=number, written=written))
        if number is not None:
            self.current = _Section(number=number, heading=text, line=line)
            self.sections.append(self.current)
            self.last_step = None

    def _list_item(self, tokens: list[Token], start: int) -> None:
        item = tokens[start]
        depth = item.level
        texts: list[str] = []
        block: str | None = None
        for token in tokens[start + 1 :]:
            if token.type == "list_item_close" and token.level == depth:
                break
            if token.type == "inline" and token.level == depth + 2:
                texts.append(token.content)
            elif token.type in ("fence", "code_block") and token.level == depth + 1 and block is None:
                block = token.content.rstrip("\n")
        if self.current is None or not texts:
            return
        first = next(t for t in tokens[start + 1 :] if t.type == "inline" and t.level == depth + 2)
        text = _one_line(" ".join(texts))
        checkbox = _CHECKBOX.match(text)
        line = self.line(item)
        if checkbox is None:
            inline_code = _longest_code(tokens, start, depth)
            if self.last_step is not None and depth <= self.last_step.level and not is_warning(text):
                self.last_step = None
            self._note(text, line, block or inline_code)
            return
        text = text[checkbox.end() :]
        section = self.current
        step = _Step(
            section=section.number,
            position=len(section.steps) + 1,
            text=text,
            line=line,
            level=depth,
            command=block or _code_in(first),
            fenced=block is not None,
            checked=checkbox.group(1) != " ",
        )
        section.steps.append(step)
        self.last_step = step

    def _note(self, text: str, line: int, command: str | None) -> None:
        assert self.current is not None
        if is_warning(text):
            guards = self.last_step.id if self.last_step else None
            caution = Caution(text=text, line=line, guards=guards)
            if self.last_step is not None:
                self.last_step.cautions.append(caution)
            else:
                self.current.cautions.append(caution)
            return
        self.current.items.append(Item(text=text, line=line, command=command))

    def _text_block(self, content: str, line: int, inline: Token) -> None:
        if self.current is None:
            return
        text = _one_line(content)
        if not is_warning(text):
            self.last_step = None
        self._note(text, line, _code_in(inline))

    def _loose_block(self, token: Token, after_list: _Step | None) -> None:
        """A fence right under a list whose last item is a step belongs to that step."""
        if self.current is None:
            return
        content = token.content.rstrip("\n")
        if after_list is not None and not after_list.fenced:
            after_list.command, after_list.fenced = content, True
            return
        self.last_step = None
        self.current.items.append(Item(text="", line=self.line(token), command=content))


def _one_line(text: str) -> str:
    return _SPACES.sub(" ", text).strip()


def _code_in(inline: Token) -> str | None:
    """The longest inline code span: commands are long, the names around them short."""
    spans = [c.content for c in (inline.children or []) if c.type == "code_inline" and c.content.strip()]
    return max(spans, key=len) if spans else None


def _longest_code(tokens: list[Token], start: int, depth: int) -> str | None:
    for token in tokens[start + 1 :]:
        if token.type == "inline" and token.level == depth + 2:
            return _code_in(token)
    return None
