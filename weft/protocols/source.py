"""Where each part of a definition came from, so errors can name file, line and column.

The YAML loader records the position of every mapping key and sequence item by
its path from the document root (``("nodes", "fetch", "with", "url")``). Any
later check (pydantic validation, graph validation, unknown actions) turns the
path it complains about into a ``Location`` with ``locate``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from weft.protocols.errors import Location

PathPart = str | int
Path = tuple[PathPart, ...]


@dataclass
class SourceMap:
    """Positions (1-based line and column) of the parts of one file."""

    file: str
    positions: dict[Path, tuple[int, int]] = field(default_factory=dict)

    def locate(
        self, path: Path, *, node: str | None = None, field_name: str | None = None
    ) -> Location:
        """The location of ``path``, or of its longest prefix that has one."""
        probe = tuple(path)
        while probe and probe not in self.positions:
            probe = probe[:-1]
        line, column = self.positions.get(probe, (None, None))
        return Location(file=self.file, line=line, column=column, node=node, field=field_name)


def locate(
    source: SourceMap | None, path: Path, *, node: str | None = None, field_name: str | None = None
) -> Location:
    """``source.locate`` that also works for definitions built in Python (no source)."""
    if source is None:
        return Location(node=node, field=field_name)
    return source.locate(path, node=node, field_name=field_name)
