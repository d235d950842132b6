"""Which values of a run are secrets, found before anything is written down.

Registering a call's arguments just before the call (``NodeCalls.call``)
catches an action that echoes a secret argument in its output or an error.
Two things are written down *before* that call, though: the run's inputs (the
journal and the run span record them when the run starts) and the output of
a node that feeds a secret argument (recorded when that node finishes). So the
compiler reads each workflow once (``analyse``) for where secret arguments
come from:

- an argument is secret when its key is sensitive (``api_key``, ``password``...,
  at any depth of ``with``) or its action's schema marks the parameter secret
  (``secret_parameters``: ``writeOnly``, as for ``SecretStr``);
- a ``${inputs.NAME...}`` reference in a secret argument makes that part of
  the inputs secret, as does ``secret: true`` on the input's declaration;
- a ``${NODE...}``, ``${input}`` or ``${item}`` reference makes that part of
  the upstream node's output secret (for ``${item}``, what the ``foreach``
  reads: its reference, or each reference and literal string of a literal
  list), and so does a node without ``with`` whose single parameter is secret;
- a literal string in a secret argument is a secret itself.

At run time, ``register_run`` registers the secret inputs and literals before
the run is journaled, and ``register_output`` a node's secret output before
it is recorded. The values keep flowing unchanged: only records are masked.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from weft.protocols import WorkflowSpec
from weft.runtime.engine.compiled import single_parameter
from weft.runtime.support.redaction import is_sensitive_key, redactor
from weft.runtime.support.secrets import secret_parameters
from weft.workflows.expressions import ExpressionError, references_in, resolve_path

#: A path into a value: ``()`` is the whole value, ``("db", "password")`` a part of it.
Path = tuple[str, ...]
#: What a node's ``${item}`` is read from: reference paths, and literal strings of a
#: literal ``foreach`` list.
ItemSources = tuple[Path | str, ...]


@dataclass
class SecretFlow:
    """What ``analyse`` found: secret parts of the inputs and of node outputs, literals."""

    #: Paths into the run's inputs (``("key",)`` for ``inputs.key``).
    inputs: set[Path] = field(default_factory=set)
    #: Literal strings given to secret arguments.
    literals: set[str] = field(default_factory=set)
    #: Per node, paths into its output that feed a secret argument.
    outputs: dict[str, set[Path]] = field(default_factory=dict)
    #: Per node, the parameters its action's schema marks secret.
    params: dict[str, frozenset[str]] = field(default_factory=dict)

    def input_names(self, declared: Iterable[str]) -> frozenset[str]:
        """The top-level inputs that are secret in whole or in part (``declared`` are
        the workflow's inputs: all of them when a secret argument reads ``${inputs}``)."""
        if () in self.inputs:
            return frozenset(declared)
        return frozenset(path[0] for path in self.inputs)


def analyse(spec: WorkflowSpec, schemas: Mapping[str, Mapping[str, Any]]) -> SecretFlow:
    """Where the secrets of ``spec`` come from; ``schemas`` maps each node to its
    action's input schema."""
    flow = SecretFlow()
    flow.inputs.update((name,) for name, decl in spec.inputs.items() if decl.secret)
    for name, node in spec.nodes.items():
        params = secret_parameters(schemas.get(name, {}))
        if params:
            flow.params[name] = params
        sources = tuple(edge.node for edge in node.after)
        foreach = _item_sources(node.foreach)
        if node.with_:
            for key, value in node.with_.items():
                secret = key in params or is_sensitive_key(key)
                _walk(flow, value, secret, sources, foreach)
        elif sources and _is_secret(single_parameter(schemas.get(name, {})), params):
            for source in sources:
                flow.outputs.setdefault(source, set()).add(())
    return flow


def _walk(
    flow: SecretFlow, value: Any, secret: bool, sources: tuple[str, ...], foreach: ItemSources
) -> None:
    """Record what feeds the secret positions of ``value`` (a ``with`` template)."""
    if isinstance(value, dict):
        for key, item in value.items():
            _walk(flow, item, secret or is_sensitive_key(str(key)), sources, foreach)
    elif isinstance(value, list):
        for item in value:
            _walk(flow, item, secret, sources, foreach)
    elif secret and isinstance(value, str):
        try:
            paths = references_in(value)
        except ExpressionError:  # reported by validation, with its location
            return
        if not paths:
            flow.literals.add(value)
        for path in paths:
            _mark(flow, path, sources, foreach)


def _mark(flow: SecretFlow, path: Path, sources: tuple[str, ...], foreach: ItemSources) -> None:
    root = path[0]
    if root == "inputs":
        flow.inputs.add(path[1:])
    elif root == "input":
        for source in sources:
            flow.outputs.setdefault(source, set()).add(())
    elif root == "item":
        for origin in foreach:
            if isinstance(origin, str):
                flow.literals.add(origin)
            elif origin and origin[0] != "item":
                _mark(flow, origin, sources, ())
    elif root in sources:
        flow.outputs.setdefault(root, set()).add(path[1:])


def _item_sources(foreach: str | list[Any] | None) -> ItemSources:
    """What ``${item}`` reads: the path of a ``foreach`` reference, or every reference
    and literal string in a literal list (any element may be the item)."""
    if not foreach:
        return ()
    found: list[Path | str] = []
    for text in [foreach] if isinstance(foreach, str) else _strings(foreach):
        try:
            paths = references_in(text)
        except ExpressionError:  # reported by validation, with its location
            continue
        if isinstance(foreach, str):
            return (paths[0],) if paths else ()
        found.extend(paths or [text])
    return tuple(found)


def _strings(value: Any) -> Iterable[str]:
    """Every string in ``value`` (lists and dicts, recursively)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _is_secret(parameter: str | None, params: frozenset[str]) -> bool:
    return parameter is not None and (parameter in params or is_sensitive_key(parameter))


def register_run(
    inputs: Mapping[str, Any], paths: tuple[Path, ...], literals: tuple[str, ...]
) -> None:
    """Register a run's secrets before it is journaled: inputs under sensitive keys, the
    inputs at ``paths`` (``SecretFlow.inputs``) and the ``literals``."""
    masker = redactor()
    masker.register_arguments(inputs)
    for path in paths:
        _register_at(inputs, path)
    for literal in literals:
        masker.register_secret(literal)


def register_output(output: Any, paths: tuple[Path, ...]) -> None:
    """Register the parts of a node's ``output`` at ``paths`` before it is recorded."""
    for path in paths:
        _register_at(output, path)


def _register_at(value: Any, path: Path) -> None:
    if path:
        try:
            value = resolve_path({"_": value}, ("_", *path))
        except ExpressionError:  # the reader's reference will fail and say so
            return
    redactor().register_leaves(value)


__all__ = ["Path", "SecretFlow", "analyse", "register_output", "register_run"]
