"""``weft topology KIND --nodes N``: write a MacNet topology as a runnable workflow file.

Actors and critics are given as ``module:attr`` (importable from the current
folder), ``path/to/file.py:attr``, or a bare name. The first two are imported
now, so each node's arguments fit its actor, and written to the file's
``actions:`` section (with ``python_path`` relative to the output file), so
``weft run FILE`` finds them; a bare name is an action the file does not
define: an agent served on a broker (``weft run FILE --broker URL``).
Without ``--actor`` or ``--capability`` every node is ``relay``, a no-op
that shows the shape and the engine's overhead.

The file is checked before it is written: it must load back to the same
definition, and, when it defines all its actions, compile. The text is
parsed once, for both: the definition it loads back to is the one compiled
(a 10,000-node file takes about a second to parse).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from weft.cli._types import Finite
from weft.protocols import WeftError

RELAY = "weft.workflows.casting:relay"
#: YAML values (keys included) a node takes in the written file, besides its edges:
#: measured on chains and meshes, where a 1,000-node chain needs 13,012.
VALUES_PER_NODE = 12


@dataclass
class _Actor:
    """One ``--actor``/``--critic`` value: the object to build with, and how the file names it."""

    obj: Any
    name: str
    python: str | None = None
    folder: Path | None = None


def _resolve(ref: str, option: str, known: dict[str, _Actor] | None = None) -> _Actor:
    """``module:attr``, ``file.py:attr`` or a bare action name; one given again (cycled
    ``--actor a --actor b --actor a``, or an actor that is a critic too) is the same actor
    (``known``), as two wrappings of one function would clash as two actions of one name."""
    if known is not None:
        if ref not in known:
            known[ref] = _resolve(ref, option)
        return known[ref]
    from weft.runtime.engine.compiler import import_object

    if ":" not in ref:
        return _Actor(ref, ref)
    target, _, attr = ref.rpartition(":")
    is_file = target.endswith(".py") or "/" in target or os.sep in target
    if is_file:
        path = Path(target)
        if not path.is_file():
            raise WeftError(f"{option} {ref}: no such file {target}")
        folder, module = path.parent.resolve(), path.stem
    else:
        folder, module = Path.cwd().resolve(), target
    sys.path.insert(0, str(folder))
    try:
        obj = import_object(f"{module}:{attr}")
    except WeftError as exc:
        raise WeftError(f"{option} {ref}: {exc}") from None
    finally:
        sys.path.remove(str(folder))
    obj = _as_actor(obj, ref, attr, option)
    spec = getattr(obj, "spec", None)
    name = spec.name if spec is not None else getattr(obj, "__name__", attr.rsplit(".", 1)[-1])
    if not is_file and not _is_under(sys.modules.get(module), folder):
        return _Actor(obj, name, ref)  # an installed module: no import folder to record
    return _Actor(obj, name, f"{module}:{attr}", folder)


def _as_actor(obj: Any, ref: str, attr: str, option: str) -> Any:
    """``obj`` as the action the written file's ``actions:`` entry will load it as.

    The nodes name the action the builder binds, the entry is named after it, and
    ``weft run`` registers what the entry loads under the entry's name: a LangGraph
    graph compiled without a name (``LangGraph``) goes by its variable, as ``weft ask
    --agents`` names it, and a graph or workflow by the name its action will have.
    Wrapping a function as a tool gives its declared output type, which tells
    whether it can feed an actor of several inputs (``workflows._feeding``).
    """
    from weft.cli._module_actions import with_variable_names
    from weft.protocols import DefinitionError
    from weft.runtime.engine.compiler import as_action

    if isinstance(obj, list | tuple | dict):
        return obj  # refused by the builder with the node's name
    try:
        return as_action(with_variable_names(obj, {}, attr))
    except DefinitionError as exc:
        raise WeftError(f"{option} {ref}: {exc}") from None


def _is_under(module: Any, folder: Path) -> bool:
    origin = getattr(module, "__file__", None)
    return origin is not None and Path(origin).resolve().is_relative_to(folder)


def build_file(
    kind: str,
    nodes: int,
    actors: list[_Actor | Any],
    critics: list[_Actor],
    *,
    output: Path,
    **options: Any,
) -> Any:
    """The topology's ``WorkflowSpec``, with ``actions:`` and ``python_path`` for ``output``."""
    from weft.workflows.topologies import generate

    cast = [a.obj if isinstance(a, _Actor) else a for a in actors]
    critic = [c.obj for c in critics] or None
    wf = generate(kind, nodes, cast, critic=critic, **options)
    folders: list[str] = []
    for entry in [*actors, *critics]:
        if not isinstance(entry, _Actor) or entry.python is None:
            continue
        wf.action_ref(entry.name, python=entry.python)
        if entry.folder is not None:
            rel = os.path.relpath(entry.folder, output.parent.resolve())
            if rel != "." and rel not in folders:
                folders.append(rel)
    wf.python_path = folders
    return wf.build()


@click.command("topology")
@click.argument("kind", metavar="KIND")
@click.option("--nodes", "-n", type=click.IntRange(min=1), required=True, help="How many nodes.")
@click.option(
    "--actor",
    "actors",
    multiple=True,
    help="An actor: module:attr, file.py:attr or an agent's name; repeat to cycle several "
    "over the nodes.",
)
@click.option(
    "--capability",
    "capabilities",
    multiple=True,
    help="A node capability in prose (the router picks its agent at run time); cycled "
    "with the actors.",
)
@click.option("--critic", "critics", multiple=True, help="A critic on every edge (repeat: cycled).")
@click.option(
    "--rounds",
    type=click.IntRange(min=0, max=100),
    default=1,
    show_default=True,
    help="With --critic: how often a critic may send an artifact back for revision.",
)
@click.option("--reducer", help="Reducer of the merge nodes (list, concat, vote, ...).")
@click.option("--reverse", is_flag=True, help="Flip every edge (fan-out becomes fan-in).")
@click.option("--seed", type=int, help="Seed of random, small-world and scale-free graphs.")
@click.option("--p", "p", type=Finite(0, 1), help="Edge (random) or rewiring probability.")
@click.option("--k", "k", type=click.IntRange(min=1), help="Small-world: neighbours in the ring.")
@click.option("--m", "m", type=click.IntRange(min=1), help="Scale-free: edges per new node.")
@click.option(
    "--branching", type=click.IntRange(min=1), default=2, show_default=True, help="Tree: children."
)
@click.option("--width", type=click.IntRange(min=1), help="Layered: nodes per layer.")
@click.option("--name", help="Workflow name (default: the kind).")
@click.option("--output", "-o", type=click.Path(dir_okay=False), required=True, help="YAML file.")
def topology_command(
    kind: str,
    nodes: int,
    actors: tuple[str, ...],
    capabilities: tuple[str, ...],
    critics: tuple[str, ...],
    rounds: int,
    reducer: str | None,
    reverse: bool,
    seed: int | None,
    p: float | None,
    k: int | None,
    m: int | None,
    branching: int,
    width: int | None,
    name: str | None,
    output: str,
) -> None:
    """Write a MacNet topology of KIND with N nodes as a workflow file `weft run` runs.

    KIND: chain, star, tree, mesh, layered, random, small-world or scale-free
    (small_world and scale_free are taken too).
    """
    from weft.workflows import dumps_workflow, loads_workflow
    from weft.workflows.casting import Capability
    from weft.workflows.topologies import canonical_kind

    try:
        kind = canonical_kind(kind)  # one spelling in what is printed and written
    except ValueError as exc:
        raise WeftError(f"topology {kind}: {exc}") from None
    out = Path(output)
    _check_size(kind, nodes, p=p, k=k, m=m, width=width)
    known: dict[str, _Actor] = {}
    cast: list[Any] = [_resolve(a, "--actor", known) for a in actors]
    for text in capabilities:
        if not text.strip():
            raise WeftError("--capability: give what the node needs in prose, not an empty text")
        cast.append(Capability(text))
    if not cast:
        cast = [_resolve(RELAY, "--actor")]
    reviewers = [_resolve(c, "--critic", known) for c in critics]
    if reducer is not None:
        _check_reducer(reducer)
    try:
        spec = build_file(
            kind,
            nodes,
            cast,
            reviewers,
            output=out,
            seed=seed,
            p=p,
            k=k,
            m=m,
            branching=branching,
            width=width,
            name=name,
            reverse=reverse,
            reducer=reducer,
            max_rounds=rounds if reviewers else 0,
        )
    except ValueError as exc:
        raise WeftError(f"topology {kind}: {exc}") from None
    text = dumps_workflow(spec)
    # Read as `weft run` will read the file (its name in messages, actions found beside it).
    written = loads_workflow(text, file=str(out))
    if written != spec:
        raise WeftError("internal error: the topology does not load back as written")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    except OSError as exc:
        raise WeftError(f"--output {out}: cannot write: {exc.strerror or exc}") from None
    edges = sum(len(n.after) for n in spec.nodes.values())
    click.echo(f"wrote {out}: {kind}, {len(spec.nodes)} nodes, {edges} edges")
    bare = sorted({a.name for a in [*cast, *reviewers] if isinstance(a, _Actor) and not a.python})
    if bare:
        click.echo(f"run it with agents serving {', '.join(bare)}: weft run {out} --broker URL")
    else:
        _check_compiles(written)
        if capabilities and not any(isinstance(a, _Actor) for a in cast):
            click.echo(
                "its nodes name capabilities and the file no actions: run it where agents "
                f"serve them, weft run {out} --broker URL, or add actions: to the file"
            )


def _edge_bound(
    kind: str, nodes: int, *, p: float | None, k: int | None, m: int | None, width: int | None
) -> int:
    """How many edges KIND (as ``KINDS`` spells it) may have with these options (random: the
    expected number)."""
    pairs = nodes * (nodes - 1) // 2
    bounds = {
        "mesh": pairs,
        "random": round(pairs * (0.3 if p is None else p)),
        "layered": nodes * (width or max(1, round(nodes**0.5))),
        "small-world": nodes * (4 if k is None else k),
        "scale-free": nodes * (2 if m is None else m),
    }
    return min(pairs, bounds.get(kind, nodes - 1))


def _check_size(kind: str, nodes: int, **shape: Any) -> None:
    """Refuse, before building anything, a graph too large for a workflow file.

    A file ``weft run`` cannot load (``$WEFT_YAML_MAX_VALUES``, 200,000 values
    by default: each edge is one, each node about twelve) is refused here, in one
    line, rather than after minutes of building or an out-of-memory kill.
    """
    from weft.workflows.yaml_limits import LoadLimits

    limit = LoadLimits.from_env().max_values
    edges = _edge_bound(kind, nodes, **shape)
    values = edges + VALUES_PER_NODE * nodes
    if values > limit:
        raise WeftError(
            f"topology {kind} --nodes {nodes}: about {edges:,} edges and {nodes:,} nodes, "
            f"more than a workflow file holds ({limit:,} values, $WEFT_YAML_MAX_VALUES); "
            "use fewer nodes or a sparser shape"
        )


def _check_reducer(name: str) -> None:
    """Import ``--reducer`` now, so a name that cannot work is refused before a file is written."""
    from weft.protocols import DefinitionError
    from weft.workflows.reducers import resolve_reducer

    folder = str(Path.cwd().resolve())  # where --actor modules are found too
    sys.path.insert(0, folder)
    try:
        resolve_reducer(name)
    except DefinitionError as exc:
        raise WeftError(f"--reducer {name}: {exc}") from None
    finally:
        sys.path.remove(folder)


def _check_compiles(written: Any) -> None:
    """Compile the written file, so a mistake shows now rather than at ``weft run``.

    ``written`` is the file's text as loaded back (its source names the file):
    its actions resolve from the file's folder and its errors name its lines,
    as when ``weft run`` compiles the file, without parsing it again.
    """
    from weft.runtime.engine.compiler import compile_workflow

    compile_workflow(written)


def register(group: click.Group) -> None:
    group.add_command(topology_command)
