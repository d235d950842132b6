"""The bearer tokens a workflow file's ``a2a:``/``mcp:`` entries name (``token_env:``).

A token is read from the environment when the workflow is loaded, never
written in the file: the file names the variable, so it can be committed
and shared. The value is registered as a secret of the process at once, so
no journal entry, trace or log line holds it; an unset variable is a
``DefinitionError`` at the ``token_env:`` line that names the variable (and
never holds a value: a token pasted where a name belongs stays unprinted).
"""

from __future__ import annotations

import os

from weft.protocols import ActionRef, DefinitionError, WorkflowSpec, locate
from weft.protocols.bearer import check_token
from weft.runtime.support.secrets import secret

__all__ = ["token_of"]


def token_of(name: str, ref: ActionRef, spec: WorkflowSpec) -> str | None:
    """The token ``ref.token_env`` names (``None`` without one), for the action ``name``."""
    if ref.token_env is None:
        return None
    var = ref.token_env
    value = os.environ.get(var)
    where = locate(spec.source, ("actions", name, "token_env"))
    if value is None:
        raise DefinitionError.single(
            f"action '{name}': token_env: the environment variable {var} is not set "
            f"(it must hold the bearer token for {ref.a2a or ref.mcp})",
            where,
        )
    try:
        return secret(check_token(value, f"the environment variable {var}"))
    except ValueError as exc:
        raise DefinitionError.single(f"action '{name}': token_env: {exc}", where) from None
