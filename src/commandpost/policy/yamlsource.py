"""YAML that remembers where each value was written, so every error can say ``path:line``.

PyYAML's composer gives nodes with marks; we build plain data from them ourselves and
keep a map from key path (``("severity_routing", "SEV1", "escalate_after")``) to the
1-based line. Duplicate keys — which PyYAML silently collapses — are reported, and a
plain ``10:00`` stays the string it looks like (YAML 1.1 would read it as 600).

Every YAML text commandpost reads from a person passes through :func:`parse_yaml`, so it is where
hostile input is refused, as a ``line: message`` problem like any other: a document nested deeper
than :data:`MAX_DEPTH` levels (PyYAML's composer recurses, so 600 ``[`` ended in a RecursionError),
an alias that refers to the value containing it, and a document whose aliases (``*name``) stand
for more than :data:`MAX_ALIAS_VALUES` values in all (an "alias bomb": ten lines of nine aliases
each mean 10⁹ values, and the builder below walks an aliased node again at each reference). The
composer counts what each alias stands for while it reads, so a bomb is refused after reading a
few hundred bytes, before anything is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.error import Mark
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

KeyPath = tuple[Any, ...]

MAX_DEPTH = 64
"""Collections inside collections; ops files need fewer than 10, Kubernetes manifests about 12."""
MAX_ALIAS_VALUES = 100_000
"""Values (scalars, lists, mappings) that aliases may stand for in one document, counted expanded."""
_SEXAGESIMAL_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


@dataclass
class Parsed:
    """The data of one YAML text and the line of every key path in it."""

    data: Any
    lines: dict[KeyPath, int] = field(default_factory=dict)
    first_line: int = 1

    def line(self, path: KeyPath) -> int:
        """The line of the deepest known prefix of ``path`` (a missing key points at its parent)."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(tuple(path[:end]))
            if found is not None:
                return found
        return self.first_line


@dataclass
class YamlProblem:
    line: int
    message: str


def parse_yaml(text: str, *, line_offset: int = 0) -> tuple[Parsed | None, list[YamlProblem]]:
    """Parse one YAML document; ``line_offset`` shifts lines (front matter inside a Markdown file).

    Returns ``(None, problems)`` on a syntax error; duplicate keys are problems but the data is
    still returned (the first occurrence wins) so the rest of the file is checked too.
    """
    try:
        loader = _BoundedLoader(text)
    except yaml.reader.ReaderError as exc:  # a control character: reported where it is, never a crash
        line = text[: max(0, exc.position)].count("\n") + 1 + line_offset
        return None, [
            YamlProblem(line, f"YAML syntax error: control character U+{exc.character:04X} is not allowed")
        ]
    try:
        try:
            node = loader.get_single_node()
        except _Refused as exc:
            return None, [YamlProblem(exc.line + line_offset, f"refused: {exc.reason}")]
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            # an error "at the end of the stream" belongs to the last line that has content
            last = max(1, len(text.rstrip().splitlines()))
            line = min(mark.line + 1 if mark else 1, last) + line_offset
            what = str(exc.problem or "invalid YAML") + (f" ({exc.context})" if exc.context else "")
            return None, [YamlProblem(line, f"YAML syntax error: {what}")]
        except yaml.YAMLError as exc:
            return None, [YamlProblem(1 + line_offset, f"YAML syntax error: {exc}")]
        builder = _Builder(loader, line_offset)
        if node is None:
            return Parsed(data=None, first_line=1 + line_offset), []
        data = builder.build(node, ())
        parsed = Parsed(data=data, lines=builder.lines, first_line=node.start_mark.line + 1 + line_offset)
        return parsed, builder.problems
    finally:
        loader.dispose()


class _Refused(Exception):
    def __init__(self, mark: Mark, reason: str) -> None:
        super().__init__(reason)
        self.line = int(mark.line) + 1
        self.reason = reason


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader whose composer refuses deep nesting, cyclic aliases and alias bombs.

    Each composed node's *expanded* size (itself plus everything under it, aliases counted as
    what they stand for) is known once it is composed; an alias adds its anchor's size to the
    document's alias total, which may not pass :data:`MAX_ALIAS_VALUES`. Only ``compose_node``
    is overridden, so everything else (scanner, parser, resolver, constructor) is PyYAML's own.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._alias_values = 0
        self._sizes: dict[Node, int] = {}
        self._composed = 0  # nodes composed so far, each alias counted as what it stands for

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        # The scanner looks ahead over every open '[' / '{' for each token, so a long run of them
        # costs time before the composer ever sees the depth: refuse as soon as it is read.
        if self.flow_level >= MAX_DEPTH:
            raise _Refused(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_flow_collection_start(TokenClass)

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()
            node = super().compose_node(parent, index)  # consumes the event; an undefined alias raises
            size = self._sizes.get(node) if node is not None else None
            if size is None:
                raise _Refused(
                    event.start_mark, f"alias *{event.anchor} refers to the value that contains it (a cycle)"
                )
            self._alias_values += size
            self._composed += size
            if self._alias_values > MAX_ALIAS_VALUES:
                raise _Refused(
                    event.start_mark,
                    f"aliases (*name) in this document expand to more than {MAX_ALIAS_VALUES} values "
                    "(a YAML alias bomb?); write the values out instead",
                )
            return node
        if self._depth >= MAX_DEPTH:
            raise _Refused(self.peek_event().start_mark, f"nested deeper than {MAX_DEPTH} levels")
        self._depth += 1
        before = self._composed
        self._composed += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if node is not None:
            self._sizes[node] = self._composed - before
        return node


class _Builder:
    def __init__(self, loader: yaml.SafeLoader, offset: int) -> None:
        self.loader = loader
        self.offset = offset
        self.lines: dict[KeyPath, int] = {}
        self.problems: list[YamlProblem] = []

    def _line(self, node: Node) -> int:
        return int(node.start_mark.line) + 1 + self.offset

    def build(self, node: Node, path: KeyPath) -> Any:
        self.lines.setdefault(path, self._line(node))
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                self.lines[(*path, index)] = self._line(item)
                items.append(self.build(item, (*path, index)))
            return items
        return self._scalar(node)

    def _mapping(self, node: MappingNode, path: KeyPath) -> dict[Any, Any]:
        result: dict[Any, Any] = {}
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            line = self._line(key_node)
            if key_node.tag == "tag:yaml.org,2002:merge":
                self.problems.append(YamlProblem(line, "merge keys (<<) are not supported in ops files"))
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(YamlProblem(line, "a key must be a plain value, not a list or mapping"))
                continue
            key = self._scalar(key_node)
            if key in seen:
                self.problems.append(
                    YamlProblem(line, f"duplicate key '{key}' (first defined on line {seen[key]})")
                )
                continue
            seen[key] = line
            self.lines[(*path, key)] = line
            result[key] = self.build(value_node, (*path, key))
        return result

    def _scalar(self, node: Node) -> Any:
        if (
            isinstance(node, ScalarNode)
            and node.tag in _SEXAGESIMAL_TAGS
            and node.style is None
            and ":" in node.value
        ):
            return node.value
        try:
            return self.loader.construct_object(node, deep=True)
        except ValueError:  # a timestamp-shaped impossible date (2026-13-45): the schema says what is wrong
            return node.value
