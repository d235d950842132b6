"""Workflows: the graph model, the Python builder, YAML in and out, topologies, reducers.

This layer imports ``weft.protocols`` only; running a workflow is
``weft.runtime``'s job, and so is turning a plain function into a tool (the
engine's registry wraps it with ``weft.agents.tool`` when it compiles).
Whatever way a workflow is written, it ends as one ``WorkflowSpec``;
``validate`` checks it as a whole and returns the ``GraphPlan`` the executor
runs from.
"""

from weft.workflows._salvage import IncompleteDefinition, Partial
from weft.workflows.builder import NodeHandle, Workflow
from weft.workflows.casting import Capability, per_node
from weft.workflows.expressions import (
    REFERENCE_RE,
    SCOPE_NAMES,
    Condition,
    ExpressionError,
    compile_template,
    parse_reference,
    references_in,
    resolve_path,
)
from weft.workflows.graph import GraphPlan, LoopEdge, analyse
from weft.workflows.reducers import BUILTIN_REDUCERS, Reducer, ReducerError, resolve_reducer
from weft.workflows.topologies import (
    chain,
    from_edges,
    generate,
    layered,
    mesh,
    random_dag,
    scale_free,
    small_world,
    star,
    tree,
)
from weft.workflows.validate import validate
from weft.workflows.yaml_io import dumps_workflow, load_workflow, loads_workflow, loads_yaml
from weft.workflows.yaml_limits import LoadLimits

__all__ = [
    "BUILTIN_REDUCERS",
    "REFERENCE_RE",
    "SCOPE_NAMES",
    "Capability",
    "Condition",
    "ExpressionError",
    "GraphPlan",
    "IncompleteDefinition",
    "LoadLimits",
    "LoopEdge",
    "NodeHandle",
    "Partial",
    "Reducer",
    "ReducerError",
    "Workflow",
    "analyse",
    "chain",
    "compile_template",
    "dumps_workflow",
    "from_edges",
    "generate",
    "layered",
    "load_workflow",
    "loads_workflow",
    "loads_yaml",
    "mesh",
    "parse_reference",
    "per_node",
    "random_dag",
    "references_in",
    "resolve_path",
    "resolve_reducer",
    "scale_free",
    "small_world",
    "star",
    "tree",
    "validate",
]
