"""Builder arguments turned into what the model takes, refusing the shapes users try.

Kept apart from ``builder``: these read one argument each and say what to write
instead, while the builder keeps the workflow's state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from weft.protocols import DefinitionError, JoinMode, JoinSpec, Location, name_apart

__all__ = ["join_field", "name_apart"]
from weft.workflows.reducers import is_reducer_name


def join_field(join: JoinSpec | JoinMode | str | Mapping[str, Any] | None, *, node: str) -> Any:
    """``join`` as the model takes it, refusing the two shapes a LangGraph user tries.

    A reducer is a name in the definition (it is journaled and hashed, and a
    resumed run imports it again), so a function object is refused with the
    ``'module:function'`` to write; and ``join="concat"`` (a reducer where the
    shorthand takes a mode) says where the reducer goes.
    """
    modes = {mode.value for mode in JoinMode}
    if isinstance(join, str) and join not in modes and is_reducer_name(join):
        raise DefinitionError.single(
            f"join={join!r} is a reducer, and join= alone takes a mode (all, any, quorum): "
            f"write join={{'reducer': {join!r}}}",
            Location(node=node, field="join"),
        )
    if isinstance(join, str):
        return {"mode": join}
    if isinstance(join, Mapping) and callable(join.get("reducer")):
        fn = join["reducer"]
        qualname = getattr(fn, "__qualname__", repr(fn))
        module = getattr(fn, "__module__", None)
        named = f"'{module}:{qualname}'"
        hint = (
            f": write {{'reducer': {named}}}"
            if module and module != "__main__" and "<" not in qualname
            else ": put it at the top of a module and write {'reducer': 'module:function'}"
        )
        raise DefinitionError.single(
            f"a reducer is named, not passed as a function{hint}; it is called as "
            "reducer(values, sources)",
            Location(node=node, field="join.reducer"),
        )
    return join
