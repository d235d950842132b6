"""Composing a YAML node tree within ``LoadLimits``, before anything is expanded.

PyYAML's composer already shares one node object between an anchor and all
its aliases, so the tree it builds is as small as the text; what explodes is
whatever walks the tree afterwards and follows each alias again. This
composer measures every collection as it closes (how many values it stands
for with its aliases expanded, and how deep it nests), so an alias that would
blow past a limit is refused at the line where it is written, and what walks
the finished tree afterwards does at most ``max_values`` steps.

Nesting is also checked on the way down: PyYAML composes recursively (three
Python frames per level), so without the check a few hundred ``[`` end in a
``RecursionError`` with a traceback thousands of lines long.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
import yaml.reader
from yaml.composer import Composer
from yaml.error import Mark
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from weft.protocols import DefinitionError, Location
from weft.workflows.graph import Problem
from weft.workflows.yaml_limits import LoadLimits

#: PyYAML built with libyaml (its wheels are): its C scanner and parser feed the composer.
_LIBYAML: bool = bool(getattr(yaml, "__with_libyaml__", False))


def compose_yaml(text: str, file: str, limits: LoadLimits) -> Node | None:
    """The node tree of the one YAML document in ``text``, or None when it is empty.

    Raises ``DefinitionError`` with one problem, naming ``file`` and the line,
    for a syntax error, more than one document, or a breach of ``limits``.
    """
    check_size(text, file, limits)
    if _LIBYAML:
        try:
            return _compose(text, file, limits, _BoundedCLoader)
        except _LibyamlGaveUp:
            pass  # e.g. far past our depth: the Python scanner finds where ours is crossed
    return _compose(text, file, limits, _BoundedLoader)


class _LibyamlGaveUp(Exception):
    """libyaml met its own nesting bound (1,000 levels) while scanning ahead, or text it
    cannot take (a lone surrogate): the Python scanner says where and what."""


def _compose(
    text: str, file: str, limits: LoadLimits, kind: type[_BoundedLoader | _BoundedCLoader]
) -> Node | None:
    loader: _BoundedLoader | _BoundedCLoader | None = None
    try:
        loader = kind(text, file, limits)  # reads the text: may raise ReaderError
        return loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        if kind is _BoundedCLoader and "maximum nesting depth" in (exc.problem or ""):
            raise _LibyamlGaveUp from None
        raise DefinitionError([syntax_problem(exc, file, text)]) from None
    except UnicodeEncodeError:
        if kind is _BoundedCLoader:
            raise _LibyamlGaveUp from None
        raise
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text[: exc.position].count("\n") + 1
        raise DefinitionError.single(
            f"YAML error: {exc.reason} (#x{exc.character:04x})",
            Location(file=file, line=line),
        ) from None
    except yaml.YAMLError as exc:
        raise DefinitionError.single(f"YAML error: {exc}", Location(file=file)) from None
    except DefinitionError:
        raise
    except RecursionError:  # only if Python's own limit is far below the usual 1,000
        raise DefinitionError.single(
            "YAML nested too deeply for this Python's recursion limit "
            f"({limits.hint('max_depth')})",
            Location(file=file),
        ) from None
    except (ValueError, OverflowError) as exc:  # PyYAML bugs: '"\\U00110000"' fails in chr()
        at = loader.line_now() if loader is not None else None
        raise DefinitionError.single(f"YAML error: {exc}", Location(file=file, line=at)) from None
    finally:
        if loader is not None:
            loader.dispose()


def check_size(text: str, file: str, limits: LoadLimits) -> None:
    """Refuse ``text`` over ``limits.max_bytes`` (UTF-8), naming the line where it crosses."""
    if len(text) <= limits.max_bytes // 4:  # even at 4 bytes a character it fits
        return
    data = text.encode("utf-8", errors="surrogatepass")
    if len(data) > limits.max_bytes:
        raise too_big(len(data), data[: limits.max_bytes].count(b"\n") + 1, file, limits)


def too_big(size: int, line: int, file: str, limits: LoadLimits) -> DefinitionError:
    """The error for a file over ``max_bytes``; ``line`` is where the limit is crossed."""
    return DefinitionError.single(
        f"YAML of {size:,} bytes is too large; it passes the limit on this line "
        f"({limits.hint('max_bytes')})",
        Location(file=file, line=line),
    )


def syntax_problem(exc: yaml.MarkedYAMLError, file: str, text: str | None = None) -> Problem:
    """A PyYAML error as one problem at its line and column (with ``text``, a tab there
    is named: an editor's tab indent is the usual cause, and neither parser says so)."""
    mark = exc.problem_mark or exc.context_mark
    message = f"YAML syntax error: {exc.problem or exc.context or 'invalid YAML'}"
    if exc.context and exc.problem and exc.context_mark is not None:
        message += f" ({exc.context} at line {exc.context_mark.line + 1})"
    if text is not None and exc.problem_mark is not None and _tab_at(text, exc.problem_mark):
        message += " (a tab: YAML indents with spaces only)"
    if mark is None:
        return message, Location(file=file)
    return message, Location(file=file, line=mark.line + 1, column=mark.column + 1)


class _Limits(Composer):
    """A composer that keeps to ``LoadLimits`` (it constructs nothing), on either parser.

    Mixed in before the parser: its ``compose_node`` is PyYAML's Python composer's,
    measuring each collection, whichever parser (Python or libyaml's) gives it events.
    """

    _file: str
    _limits: LoadLimits
    # the parser's, Python or libyaml (annotations only: the parser's methods stay found)
    check_event: Callable[..., bool]
    peek_event: Callable[[], Any]

    def _start(self, file: str, limits: LoadLimits) -> None:
        self._file = file
        self._limits = limits
        self._depth = 0  # collections open around the node being composed
        self._aliases = 0
        #: id of each finished collection -> (values it stands for expanded, levels it nests)
        self._measures: dict[int, tuple[int, int]] = {}

    def line_now(self) -> int | None:
        """The line (1-based) the parser has reached, when it can tell."""
        try:
            event = self._next() if self.check_event() else None
        except Exception:  # the parser broke at this point: no line to give
            return None
        return event.start_mark.line + 1 if event is not None else None

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            return self._alias()
        opens = self.check_event(SequenceStartEvent, MappingStartEvent)
        if opens:
            self._depth += 1
            if self._depth > self._limits.max_depth:
                raise self._breach(
                    f"YAML nested more than {self._limits.max_depth} levels deep",
                    "max_depth",
                    self._next().start_mark,
                )
        try:
            node = super().compose_node(parent, index)
        finally:
            if opens:
                self._depth -= 1
        if node is not None and not isinstance(node, ScalarNode):
            self._measure(node)
        return node

    def _next(self) -> Any:
        """The event about to be composed (PyYAML's ``peek_event`` is untyped)."""
        return self.peek_event()

    def _alias(self) -> Node | None:
        event = self._next()
        mark = event.start_mark
        self._aliases += 1
        if self._aliases > self._limits.max_aliases:
            raise self._breach(
                f"more than {self._limits.max_aliases:,} YAML aliases", "max_aliases", mark
            )
        anchor = event.anchor
        node = super().compose_node(None, 0)
        if node is None or isinstance(node, ScalarNode):
            return node
        measure = self._measures.get(id(node))
        if measure is None:  # its collection is still open: the alias is inside its anchor
            raise self._breach(f"alias *{anchor} is inside the anchor &{anchor} it names", "", mark)
        if self._depth + measure[1] > self._limits.max_depth:
            raise self._breach(
                f"alias *{anchor} nests the YAML more than {self._limits.max_depth} levels deep",
                "max_depth",
                mark,
            )
        return node

    def _measure(self, node: Node) -> None:
        """Record how many values ``node`` stands for, and refuse it past ``max_values``."""
        children: list[Node]
        if isinstance(node, MappingNode):
            children = [part for pair in node.value for part in pair]
        else:
            children = node.value
        size, height = 1, 1
        measures = self._measures
        for child in children:
            measure = measures.get(id(child))
            if measure is None:  # a scalar
                size += 1
            else:
                size += measure[0]
                height = max(height, measure[1] + 1)
        if size > self._limits.max_values:
            raise self._breach(
                f"YAML holds more than {self._limits.max_values:,} values, counting each alias "
                "as a copy of what it names",
                "max_values",
                node.start_mark,
            )
        measures[id(node)] = (size, height)

    def _breach(self, message: str, field: str, mark: Mark) -> DefinitionError:
        if field:
            message += f" ({self._limits.hint(field)})"
        where = Location(file=self._file, line=mark.line + 1, column=mark.column + 1)
        return DefinitionError.single(message, where)


class _BoundedLoader(_Limits, yaml.SafeLoader):
    """The pure-Python loader: where PyYAML was built without libyaml."""

    def __init__(self, text: str, file: str, limits: LoadLimits) -> None:
        yaml.SafeLoader.__init__(self, text)
        self._start(file, limits)

    def fetch_flow_collection_start(self, TokenClass: Any) -> None:
        """Refuse a ``[`` or ``{`` past ``max_depth`` as the scanner meets it.

        The composer would refuse it too, but later: the scanner holds back
        tokens while a ``[`` may still start a mapping key (up to 1,024
        characters), and with every open level its bookkeeping costs more,
        so a long line of ``[`` takes quadratic time before the composer
        sees any. Open block collections (``indents``) plus flow levels never
        exceed the composer's depth, so this never refuses what it accepts.
        """
        if len(self.indents) + self.flow_level >= self._limits.max_depth:
            raise self._breach(
                f"YAML nested more than {self._limits.max_depth} levels deep",
                "max_depth",
                self.get_mark(),
            )
        super().fetch_flow_collection_start(TokenClass)


class _BoundedCLoader(_Limits, yaml.CSafeLoader):
    """libyaml's scanner and parser under the same composer: ten times faster on a big
    file (a 1,000-node MacNet topology). libyaml's parser keeps no recursion, so the
    scanner needs no depth check of its own: the composer refuses the depth."""

    def __init__(self, text: str, file: str, limits: LoadLimits) -> None:
        yaml.CSafeLoader.__init__(self, text)
        Composer.__init__(self)  # the Python composer's state: libyaml's is not used
        self._start(file, limits)

    def get_single_node(self) -> Node | None:
        return Composer.get_single_node(self)

    def dispose(self) -> None:
        yaml.CSafeLoader.dispose(self)


def _tab_at(text: str, mark: Mark) -> bool:
    """Whether the character at ``mark`` (0-based line and column) in ``text`` is a tab."""
    lines = text.split("\n", mark.line + 1)
    if mark.line >= len(lines):
        return False
    line = lines[mark.line]
    return mark.column < len(line) and line[mark.column] == "\t"
