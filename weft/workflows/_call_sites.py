"""Where each part of a Python-built workflow was written, so its errors name file and line.

A YAML workflow's errors say ``wf.yaml:12:7``: the loader keeps a ``SourceMap``
of every key. A builder's parts come from calls (``wf.node(...)``,
``wf.edge(...)``), so the builder keeps the file and line of each call instead,
and ``CallSites`` answers ``locate`` with them: every check that locates a
problem by its path (``validate``, the model errors, the engine's own checks)
names the user's line without knowing how the workflow was written.

Which line. The builder may be called through weft's own generators
(``topologies``, ``casting``) and through the user's helpers; what names a
mistake is the line in the code that *writes the workflow*, the code that
created the ``Workflow``. So the walk skips the frames of this package, then
looks, among the user's frames, for the one running the code that created the
workflow: ``add(wf, "b", after=["zz"])`` at module level names that line, not
the ``wf.node`` line inside ``add`` that every call of the helper shares. When
that code is not on the stack (the workflow was created in a function that has
returned), the first frame outside this package is named. A workflow weft
itself builds from data (an ``ask`` plan, ``weft topology``, one action given
to ``run_workflow``) is reached through other weft frames: it has no line of
the user's to name.

Cost: a topology adds thousands of nodes, so a call records only a
``(filename, lineno)`` tuple from a short frame walk (the source is never read),
a generator finds its user's line once for all its nodes
(``Workflow._made_in_one_call``), and nothing is formatted until a problem is
reported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import replace
from types import CodeType, FrameType
from typing import Any

from weft.protocols import DefinitionError, Location, SourceMap
from weft.protocols.source import Path

#: ``(filename, lineno)`` of a builder call, as Python names the file (``co_filename``).
CallSite = tuple[str, int]

#: Frames in these files are the builder's own (the builder, topologies, casting).
_BUILDER_DIR = os.path.dirname(__file__) + os.sep
#: Frames in the rest of weft mean weft built the workflow from data.
_WEFT_DIR = os.path.dirname(os.path.dirname(__file__)) + os.sep
#: How far out from the first user frame the code that created the workflow is looked for.
_HELPER_DEPTH = 16


def _user_frame(frame: FrameType | None) -> FrameType | None:
    """The first frame outside this package from ``frame`` (the builder method's caller)
    on; None when it is weft's own (weft built the workflow) or the stack runs out."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_BUILDER_DIR):
            return None if filename.startswith(_WEFT_DIR) else frame
        frame = frame.f_back
    return None


class Recorder:
    """A workflow's memory of where the user is writing it: ``site()`` is the call site of
    the builder method calling it.

    Created by ``Workflow.__init__``: the code calling it is the workflow's *home*, the
    code that writes it, looked for again at each call (see the module docstring).

    The last answer is kept with the code and instruction it was read at, which fix the
    line: a loop adds node after node from one line of its home, and such a call costs
    one frame look-up and two comparisons (``f_lineno`` scans the code's line table;
    the walk looks at several frames); those nodes share one tuple.
    """

    __slots__ = ("_code", "_lasti", "_site", "home", "pinned", "workflow")

    def __init__(self) -> None:
        # sys._getframe(2): the caller of Workflow.__init__
        frame = _user_frame(sys._getframe(2))
        self.home: CodeType | None = None if frame is None else frame.f_code
        #: The code of the last answer's frame, when it is the home (a helper's frame
        #: is not kept: the same helper line may be reached from another line of home).
        self._code: CodeType | None = None
        self._lasti = -1
        self._site: CallSite | None = None
        #: Where the ``Workflow(...)`` call is.
        self.workflow = None if frame is None else self._line(frame)
        #: While true, every part is located at ``workflow`` (``Workflow._made_in_one_call``).
        self.pinned = False

    def __getstate__(self) -> dict[str, Any]:
        """A pickled workflow keeps its sites; code objects do not pickle, so its copy has
        no home (its later calls are named by their first frame outside weft)."""
        return {"workflow": self.workflow, "pinned": self.pinned}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.home = self._code = self._site = None
        self._lasti = -1
        self.workflow = state["workflow"]
        self.pinned = state["pinned"]

    def site(self) -> CallSite | None:
        """Where the user called the builder method calling this: in the workflow's home
        when that is on the stack (the user's helper was called from there), else the
        first frame outside this package; None when weft built the workflow."""
        if self.pinned:
            return self.workflow
        caller = sys._getframe(2)  # the builder method's caller
        if caller.f_code is self._code and caller.f_lasti == self._lasti:
            return self._site  # the same line of home as the last call
        frame = _user_frame(caller)
        if frame is None:
            return None
        home = self.home
        if frame.f_code is not home and home is not None:  # through a helper, maybe
            probe = frame.f_back
            for _ in range(_HELPER_DEPTH):
                if probe is None:
                    break
                if probe.f_code is home:
                    frame = probe
                    break
                probe = probe.f_back
        return self._line(frame)

    def _line(self, frame: FrameType) -> CallSite:
        """``frame``'s file and line; kept for the next call when ``frame`` runs home."""
        code, lasti = frame.f_code, frame.f_lasti
        if code is self._code and lasti == self._lasti and self._site is not None:
            return self._site
        site = (code.co_filename, frame.f_lineno)
        if code is self.home or self.home is None:
            self._code, self._lasti, self._site = code, lasti, site
        return site


def shown(filename: str) -> str:
    """``filename`` as a person would type it: relative to the working directory when the
    file is below it (importing makes it absolute), as the YAML loader shows the path given.
    Called only for problems, never while building."""
    cwd = os.getcwd() + os.sep
    return filename[len(cwd) :] if filename.startswith(cwd) else filename


def at_site(site: CallSite | None) -> str:
    """``wf.py:12``, the way ``Location`` writes a file and line, for a message."""
    return "" if site is None else f"{shown(site[0])}:{site[1]}"


def located(exc: DefinitionError, site: CallSite | None) -> DefinitionError:
    """``exc`` with ``site`` as the file and line of each problem that has none: a mistake
    refused at the builder call that made it."""
    if site is None:
        return exc
    return DefinitionError(
        [
            (message, where if where.file else replace(where, file=shown(site[0]), line=site[1]))
            for message, where in exc.problems
        ]
    )


class CallSites(SourceMap):
    """The ``SourceMap`` of a built ``WorkflowSpec``: a path's location is the call that
    added that part (a node, an edge of ``Workflow.edge``, an input, an output, an
    action ref), else the ``Workflow(...)`` call.

    ``file`` is empty, as a spec with no file would have: what reads ``source.file``
    for a folder (relative paths of ``actions:``, ``python_path``) keeps reading the
    builder's workflow as it did, from the working directory.
    """

    def __init__(
        self,
        workflow: CallSite | None,
        nodes: Mapping[str, CallSite | None],
        edges: Mapping[tuple[str, int], CallSite | None],
        sections: Mapping[str, Mapping[str, CallSite | None]],
    ) -> None:
        super().__init__(file="")
        self.workflow = workflow
        self.nodes = nodes
        self.edges = edges
        #: ``inputs``, ``outputs`` and ``actions``, by name.
        self.sections = sections

    def __repr__(self) -> str:
        return f"<CallSites of {len(self.nodes)} nodes, {len(self.edges)} edges of Workflow.edge>"

    def site(self, path: Path) -> CallSite | None:
        """The call that added what ``path`` (a YAML path: ``("nodes", "b", "after", 0)``) names."""
        if len(path) >= 2:
            head, name = path[0], path[1]
            if head == "nodes" and isinstance(name, str):
                if len(path) >= 4 and path[2] == "after" and isinstance(path[3], int):
                    edge = self.edges.get((name, path[3]))
                    if edge is not None:
                        return edge
                node = self.nodes.get(name)
                if node is not None:
                    return node
            elif isinstance(head, str) and isinstance(name, str):
                found = self.sections.get(head, {}).get(name)
                if found is not None:
                    return found
        return self.workflow

    def locate(
        self, path: Path, *, node: str | None = None, field_name: str | None = None
    ) -> Location:
        site = self.site(tuple(path))
        if site is None:
            return Location(node=node, field=field_name)
        return Location(file=shown(site[0]), line=site[1], node=node, field=field_name)
