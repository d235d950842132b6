"""The real click command tree of ``weft``, walked the way the shell hands it words.

Shared by the tests that hold the documentation to the CLI: ``cli/test_cli_docs.py``
(every command and option has a line in docs/cli.md) and
``docs/test_docs_blocks.py`` (every ``weft ...`` command a page shows parses).
"""

from __future__ import annotations

from collections.abc import Iterator

import click

from weft.cli import cli


def commands(group: click.Command, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every visible command under ``group`` as the words that name it (``()`` is ``weft``)."""
    yield path
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            if not command.hidden:
                yield from commands(command, (*path, name))


def command_at(path: tuple[str, ...]) -> click.Command:
    """The command that ``weft path...`` names."""
    command: click.Command = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def parse_problem(words: list[str]) -> str | None:
    """Why ``weft words...`` would be refused by the parser, or None when it parses.

    Runs click's own option parser command by command (a group's options, then
    its subcommand's), so an option that does not exist, an option without its
    value, a subcommand that does not exist or a value outside an option's
    choices is found; values are not converted (files need not exist) and no
    callback runs.
    """
    command: click.Command = cli
    path = ["weft"]
    rest = list(words)
    while True:
        ctx = click.Context(command, info_name=" ".join(path))
        try:
            options, rest, _ = command.make_parser(ctx).parse_args(rest)
        except click.UsageError as exc:
            return f"{' '.join(path)}: {exc.format_message()}"
        for param in command.params:
            value = options.get(param.name) if param.name else None
            choice = param.type
            wrong = isinstance(value, str) and value not in getattr(choice, "choices", (value,))
            if isinstance(choice, click.Choice) and wrong:
                listed = ", ".join(map(str, choice.choices))
                return f"{' '.join(path)}: {value!r} is not one of {listed}"
        if not isinstance(command, click.Group):
            if rest and not command.allow_extra_args:
                return f"{' '.join(path)}: unexpected extra arguments {rest}"
            return None
        if not rest:
            return None
        name = rest.pop(0)
        if name not in command.commands:
            return f"{' '.join(path)}: no such command {name!r}"
        command = command.commands[name]
        path.append(name)
