"""Workflow YAML in and out, with line and column on every error.

Loading composes the YAML node tree (the safe loader's composer, held to
``LoadLimits`` by ``_yaml_compose``: size, nesting, aliases) and builds the
Python values ourselves instead of calling ``safe_load``, for three reasons:
we record the position of every mapping key and sequence item in a
``SourceMap`` (so any later check can name a line), we refuse duplicate keys
(PyYAML silently keeps the last one, which would hide a duplicate node), and
mapping keys stay the strings the user wrote (a node called ``on`` or ``no``
is not turned into a boolean).

A loaded spec is model-validated only; graph checks (cycles, references,
actions) are ``validate``'s job, because they need the actions available at
run time. A file that fails anyway is the exception: its ``DefinitionError``
(an ``IncompleteDefinition``) lists, in file order, the field problems and the
graph and reference problems of the parts that passed (``_salvage``), and
carries those parts (``partial``), so that the runtime adds the problems of
loading their actions and a user fixes them all in one pass.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path as FilePath
from typing import Any

import yaml
from pydantic import ValidationError
from yaml.constructor import SafeConstructor
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from weft.protocols import DefinitionError, Location, SourceMap, WorkflowSpec
from weft.protocols.source import Path
from weft.workflows._model_errors import validation_problems
from weft.workflows._salvage import IncompleteDefinition, Partial, error_paths, salvage_spec
from weft.workflows._yaml_compose import compose_yaml, too_big
from weft.workflows.gc_pause import gc_paused
from weft.workflows.graph import Problem, in_file_order
from weft.workflows.validate import collect_problems
from weft.workflows.yaml_limits import LoadLimits

_MERGE_TAG = "tag:yaml.org,2002:merge"

#: Fields whose value is kept as the text written, so ``version: 1`` is the string "1".
_RAW_TEXT_PATHS: frozenset[Path] = frozenset({("version",)})


def load_workflow(path: str | PathLike[str], *, limits: LoadLimits | None = None) -> WorkflowSpec:
    """Read and model-validate a workflow file; raises ``DefinitionError`` naming file and line.

    ``limits`` bounds the YAML (size, nesting, aliases); by default
    ``LoadLimits.from_env()``, the defaults as overridden by ``WEFT_YAML_MAX_*``.
    """
    text = read_yaml_file(path, limits, what="workflow file")
    return loads_workflow(text, file=str(path), limits=limits)


def loads_workflow(
    text: str, file: str = "<string>", *, limits: LoadLimits | None = None
) -> WorkflowSpec:
    """Parse and model-validate workflow YAML; ``file`` is only used in messages."""
    with gc_paused():  # a node tree and values per line, none in a cycle: see ``gc_pause``
        return _loads_workflow(text, file, limits)


def _loads_workflow(text: str, file: str, limits: LoadLimits | None) -> WorkflowSpec:
    source = SourceMap(file=file)
    data, root, read_problems = _values(text, file, limits, source)
    if root is None:
        raise DefinitionError.single(
            "the file is empty; a workflow needs at least 'name' and 'nodes'", Location(file=file)
        )
    if not isinstance(data, dict):
        line, column = root.start_mark.line + 1, root.start_mark.column + 1
        raise DefinitionError.single(
            f"a workflow must be a mapping with 'name' and 'nodes', got {_kind(data)}",
            Location(file=file, line=line, column=column),
        )
    source.positions.setdefault((), (root.start_mark.line + 1, root.start_mark.column + 1))
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        # every problem at once: the fields', and the graph's of the parts that passed
        problems = validation_problems(exc, WorkflowSpec, source=source, data=data)
        later, partial = salvage_spec(data, error_paths(exc), source)
        found = in_file_order([*read_problems, *problems, *later])
        raise IncompleteDefinition(found, partial) from None
    except RecursionError:  # pragma: no cover - LoadLimits.max_depth keeps far below it
        raise DefinitionError.single("YAML nested too deeply", Location(file=file)) from None
    spec._source = source
    if read_problems:  # a repeated key (the first is kept): the graph's problems too
        later = collect_problems(spec, None)
        # the actions of a node with a repeated key are not judged: which value was meant?
        failed = {p[1].node: frozenset[str]() for p in read_problems if p[1].node}
        partial = Partial(spec, failed)
        raise IncompleteDefinition(in_file_order([*read_problems, *later]), partial)
    return spec


def loads_yaml(text: str, file: str = "<string>", *, limits: LoadLimits | None = None) -> Any:
    """Plain Python values of a YAML document (not a workflow), within ``limits``.

    The same reading as a workflow's: bounded, mapping keys kept as the text
    written, duplicate keys refused, every error one ``DefinitionError``
    naming ``file`` and line. For files a person writes beside a workflow
    (``weft run --input-file``, ``weft route --cards``). An empty document is None.
    """
    data, _, problems = _values(text, file, limits, SourceMap(file=file))
    if problems:
        raise DefinitionError(problems)
    return data


def read_yaml_file(
    path: str | PathLike[str], limits: LoadLimits | None = None, *, what: str = "file"
) -> str:
    """The text of a YAML file, refusing one over ``limits.max_bytes`` before reading it whole.

    ``what`` names the file in messages ("workflow file not found: ...").
    """
    limits = limits or LoadLimits.from_env()
    file = FilePath(path)
    where = Location(file=str(path))
    if not file.exists():
        raise DefinitionError.single(f"{what} not found: {path}", where)
    if not file.is_file():
        raise DefinitionError.single(f"not a file: {path}", where)
    try:
        with file.open("rb") as stream:
            data = stream.read(limits.max_bytes + 1)
        if len(data) > limits.max_bytes:
            size = file.stat().st_size
            raise too_big(size, data[: limits.max_bytes].count(b"\n") + 1, str(path), limits)
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionError.single(f"not UTF-8 text: {exc}", where) from None
    except OSError as exc:
        raise DefinitionError.single(f"cannot read: {exc.strerror or exc}", where) from None


def _values(
    text: str, file: str, limits: LoadLimits | None, source: SourceMap
) -> tuple[Any, Node | None, list[Problem]]:
    """Compose ``text`` within ``limits`` and convert it, recording positions in ``source``.

    Also returns the problems met converting (a repeated key, a bad merge): the value
    is still whole (without what was refused), so later checks can run on it.
    """
    root = compose_yaml(text, file, limits or LoadLimits.from_env())
    if root is None:
        return None, None, []
    converter = _Converter(source)
    data = converter.convert(root, ())
    return data, root, converter.problems


def _node_of(path: Path) -> str | None:
    if len(path) >= 2 and path[0] == "nodes" and isinstance(path[1], str):
        return path[1]
    return None


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    return f"a {type(value).__name__} ({value!r})"


class _Converter:
    """YAML nodes → plain Python values, recording positions and collecting problems."""

    def __init__(self, source: SourceMap) -> None:
        self.source = source
        self.constructor = SafeConstructor()
        self.problems: list[Problem] = []

    def where(self, node: Node) -> Location:
        mark = node.start_mark
        return Location(file=self.source.file, line=mark.line + 1, column=mark.column + 1)

    def convert(self, node: Node, path: Path) -> Any:
        """The value of ``node``; aliases are followed, which the composer keeps bounded
        (``LoadLimits.max_values``) and free of cycles (an alias inside its own anchor)."""
        if isinstance(node, MappingNode):
            return self.mapping(node, path)
        if isinstance(node, SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                mark = item.start_mark
                self.source.positions[(*path, i)] = (mark.line + 1, mark.column + 1)
                items.append(self.convert(item, (*path, i)))
            return items
        return self.scalar(node, path)

    def scalar(self, node: Node, path: Path) -> Any:
        if path in _RAW_TEXT_PATHS and isinstance(node, ScalarNode):
            return node.value
        try:
            return self.constructor.construct_object(node, deep=True)
        except Exception as exc:
            self.problems.append((f"invalid value {node.value!r}: {exc}", self.where(node)))
            return None

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_line: dict[str, int] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.problems.append(("a mapping key must be a plain value", self.where(key_node)))
                continue
            key = str(key_node.value)
            line, column = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if key in first_line:
                what = "node" if path == ("nodes",) else "key"
                node_name = key if path == ("nodes",) else _node_of(path)
                where = self.where(key_node)
                self.problems.append(
                    (
                        f"duplicate {what} '{key}': defined at line {first_line[key]} "
                        f"and again at line {line}",
                        Location(where.file, where.line, where.column, node=node_name),
                    )
                )
                continue
            first_line[key] = line
            self.source.positions[(*path, key)] = (line, column)
            result[key] = self.convert(value_node, (*path, key))
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for merged_node in sources:
                merged = self.convert(merged_node, path)
                if not isinstance(merged, dict):
                    self.problems.append(("'<<' must merge a mapping", self.where(merged_node)))
                    continue
                for key, value in merged.items():
                    result.setdefault(key, value)
        return result


# -- dumping -------------------------------------------------------------------

_TOP_ORDER = (
    "name", "version", "description", "inputs", "actions", "python_path", "defaults",
    "concurrency", "action_concurrency", "on_failure", "journal", "nodes", "outputs",
)  # fmt: skip
_NODE_ORDER = (
    "action", "capability", "description", "after", "foreach", "with", "join", "timeout", "retry",
    "concurrency",
)  # fmt: skip


class _Dumper(yaml.SafeDumper):
    """Block style, sequences indented under their key, multi-line strings as ``|`` blocks."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _ordered(data: dict[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    head = {k: data[k] for k in order if k in data}
    head.update((k, v) for k, v in data.items() if k not in head)
    return head


def dumps_workflow(spec: WorkflowSpec) -> str:
    """YAML for ``spec`` that loads back to an equal spec.

    Defaults are left out, edges that only name a node are written as the
    name, inputs that only have a (scalar or list) default use the shorthand
    ``name: value``, and node order is kept.
    """
    data = spec.model_dump(mode="json", by_alias=True, exclude_defaults=True)
    inputs = data.get("inputs")
    if inputs:
        for name, entry in inputs.items():
            default = entry.get("default")
            if set(entry) == {"default"} and default is not None and not isinstance(default, dict):
                inputs[name] = default
    nodes: dict[str, Any] = {}
    for name, node in data["nodes"].items():
        if "after" in node:
            node["after"] = [
                edge["node"] if set(edge) == {"node"} else edge for edge in node["after"]
            ]
        nodes[name] = _ordered(node, _NODE_ORDER)
    data["nodes"] = nodes
    text: str = yaml.dump(
        _ordered(data, _TOP_ORDER),
        Dumper=_Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
        width=100,
    )
    return text
