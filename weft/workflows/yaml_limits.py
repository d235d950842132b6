"""How much YAML the loader reads: bytes, nesting depth, aliases, and expanded values.

A YAML file is small text that can stand for a huge value: nine anchors that
each repeat the previous one nine times (the "billion laughs") fit in 500
bytes and expand to 387 million values, and a few thousand ``[`` nest deeper
than Python's recursion limit. The loader checks these limits while it
composes the YAML node tree (``_yaml_compose``), before anything is expanded,
so a hostile or broken file fails in milliseconds with one line naming the
file and line, instead of filling memory or the stack.

The defaults are far above what a workflow needs (a 450-node full mesh, the
densest topology, is about 200,000 values); raise them per process with the
environment variables below, or per call with ``load_workflow(path,
limits=LoadLimits(...))``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from weft.protocols import DefinitionError


class LoadLimits(BaseModel):
    """Limits on one YAML document; every breach is a ``DefinitionError`` naming file and line."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: Environment variable of each field, read by ``from_env``.
    ENV: ClassVar[dict[str, str]] = {
        "max_bytes": "WEFT_YAML_MAX_BYTES",
        "max_depth": "WEFT_YAML_MAX_DEPTH",
        "max_aliases": "WEFT_YAML_MAX_ALIASES",
        "max_values": "WEFT_YAML_MAX_VALUES",
    }

    max_bytes: int = Field(
        default=4 * 1024 * 1024,
        ge=1,
        description="Largest file, in bytes of UTF-8 (4 MiB).",
    )
    max_depth: int = Field(
        default=64,
        ge=1,
        le=256,
        description="Deepest nesting of lists and mappings, counting what aliases bring in. "
        "At most 256: deeper documents would exhaust Python's stack.",
    )
    max_aliases: int = Field(
        default=1_000,
        ge=0,
        description="Most aliases (``*name``) in one document.",
    )
    max_values: int = Field(
        default=200_000,
        ge=1,
        description="Most values (scalars, lists, mappings) in the document once every alias "
        "is expanded; an alias counts as a copy of everything it names.",
    )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LoadLimits:
        """The defaults, overridden by ``WEFT_YAML_MAX_*`` variables that are set.

        Raises ``DefinitionError`` naming the variable when one is not a whole
        number in its field's range.
        """
        env = os.environ if environ is None else environ
        given: dict[str, int] = {}
        for field, variable in cls.ENV.items():
            raw = env.get(variable)
            if raw is None or not raw.strip():
                continue
            try:
                given[field] = int(raw.strip().replace("_", ""))
            except ValueError:
                raise DefinitionError.single(
                    f"{variable}={raw!r}: expected a whole number"
                ) from None
        if not given:
            return _DEFAULT
        try:
            return cls(**given)
        except ValidationError as exc:
            error = exc.errors()[0]
            field = str(error["loc"][0])
            raise DefinitionError.single(
                f"{cls.ENV[field]}={given[field]}: {error['msg'].lower()}"
            ) from None

    def hint(self, field: str) -> str:
        """How to raise the limit ``field``: named in every breach message."""
        return f"limit {getattr(self, field):,}, set by LoadLimits.{field} or ${self.ENV[field]}"


_DEFAULT = LoadLimits()
