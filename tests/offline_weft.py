"""``weft ARGS`` in this process, with its own ``$WEFT_HOME`` and no broker, Chroma server or
model from the environment: what a user with nothing configured gets."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from weft.cli import cli


def weft(home: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        list(args),
        env={
            "WEFT_HOME": str(home),
            "WEFT_BROKER": None,
            "WEFT_CHROMA_URL": None,
            "OPENAI_API_KEY": None,
            "OPENAI_BASE_URL": None,
        },
    )
