"""``weft validate`` / ``weft run`` on a broken file, and the problem lines they print.

Shared by the tests that check every problem of a file is listed at once
(``test_validate_every_problem``, ``test_validate_action_stage``).
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from weft.cli import cli


def invoke(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Result:
    """The command in ``tmp_path``'s ``WEFT_HOME`` (and ``env``); ``run`` with a journal
    there too."""
    argv = list(args)
    if argv[0] == "run":
        argv += ["--journal", str(tmp_path / "journal.db")]
    return CliRunner().invoke(cli, argv, env={"WEFT_HOME": str(tmp_path), **(env or {})})


def problem_lines(result: Result) -> list[str]:
    """The problems printed, one per line, after checking it was a user mistake (exit 2,
    no traceback, one ``error:`` prefix)."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    text = result.stderr.strip()
    assert text.startswith("error: ")
    return text.removeprefix("error: ").splitlines()
