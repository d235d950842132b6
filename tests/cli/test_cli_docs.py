"""docs/cli.md names every command and every option ``--help`` shows.

The CLI reference is where users look first; an option added without a line
there is an option nobody finds. This walks the real click command tree, so a
new command or flag fails here until it is documented.
"""

from __future__ import annotations

import re
from pathlib import Path

import click
from cli_tree import command_at, commands

from weft.cli import cli

DOC = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text(encoding="utf-8")


def documented_command(path: tuple[str, ...]) -> bool:
    """``weft a b`` is written out, or a line about ``weft a`` lists ``b`` among its
    subcommands (``weft memory ls | show ID | prune``)."""
    if f"weft {' '.join(path)}" in DOC:
        return True
    group = f"weft {' '.join(path[:-1])}"
    word = re.compile(rf"(?<![\w-]){re.escape(path[-1])}(?![\w-])")
    return any(group in line and word.search(line) for line in DOC.splitlines())


def section(path: tuple[str, ...]) -> str:
    """The part of the reference about ``weft path[0]``: from the heading that names it
    to the next heading of that level; the whole page for the top-level options."""
    if not path:
        return DOC
    parts = re.split(r"(?m)^## ", DOC)
    found = [p for p in parts if re.match(rf"[^\n]*weft {re.escape(path[0])}\b", p)]
    return "\n".join(found)


def documented_option(option: str, text: str) -> bool:
    return re.search(rf"(?<![\w-]){re.escape(option)}(?![\w-])", text) is not None


def test_every_command_has_a_line_in_the_reference() -> None:
    missing = [" ".join(p) for p in commands(cli) if p and not documented_command(p)]
    assert missing == [], f"commands not in docs/cli.md: {missing}"


def test_every_option_of_every_command_is_in_the_reference() -> None:
    missing = []
    for path in commands(cli):
        for param in command_at(path).params:
            if not isinstance(param, click.Option) or param.hidden:
                continue
            names = param.opts + param.secondary_opts
            if not any(documented_option(o, section(path)) for o in names):
                missing.append(f"weft {' '.join(path)} {names[0]}".replace("  ", " "))
    assert missing == [], f"options not in docs/cli.md: {missing}"
