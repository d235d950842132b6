"""One node's place in a run: which inputs arrived, and what its join makes of them.

A ``Slot`` counts the edges into its node as they resolve (an output, an
inactive branch, a failed source) and answers, after each, whether the node
can now run, must be skipped, or waits. These are pure decisions: no task,
no event, no clock, so they can be read and tested on their own.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

from weft.protocols import JoinMode, NodeState
from weft.runtime.engine.compiled import CompiledNode


class Verdict(Enum):
    """What a node's join decided once enough of its inputs resolved.

    Every verdict but ``LAUNCH`` skips the node; its value is the reason recorded.
    """

    LAUNCH = "launch"
    UPSTREAM_FAILED = "upstream failed"
    #: Every edge resolved empty: a false `when`, a critic that rejected, a skipped source.
    NO_INPUT = "no input (conditions false or critics rejected)"
    QUORUM_NOT_REACHED = "quorum not reached"


class Slot:
    """The per-run state of one node, in one record so an edge costs one lookup."""

    __slots__ = (
        "active",
        "arrivals",
        "failed_inputs",
        "launched",
        "need",
        "node",
        "resolved",
        "runs",
        "state",
        "total",
        "waits_all",
    )

    def __init__(self, node: CompiledNode) -> None:
        self.node = node
        #: Whether the node waits for every input (``join: all``, or a single input).
        self.waits_all = node.join_mode is JoinMode.ALL
        #: Active inputs an ``any`` or quorum join needs.
        self.need = 1 if node.join_mode is JoinMode.ANY else node.quorum
        self.total = len(node.incoming)
        self.state = NodeState.PENDING
        #: Artifacts by source node, as delivered (a loop's next pass replaces them).
        self.arrivals: dict[str, Any] = {}
        self.resolved = 0
        self.active = 0
        self.failed_inputs = 0
        self.launched = False
        #: How many times the node started (loops run it again).
        self.runs = 0

    # -- inputs arriving --------------------------------------------------------------

    def receive(self, source: str, artifact: Any) -> Verdict | None:
        """An edge from ``source`` delivered ``artifact``; the join's verdict, if any."""
        self.arrivals[source] = artifact
        self.active += 1
        self.resolved += 1
        if self.launched or (self.waits_all and self.resolved < self.total):
            return None
        return self.verdict()

    def receive_inactive(self) -> Verdict | None:
        """An edge resolved without an artifact (its condition was false, its source skipped)."""
        self.resolved += 1
        return None if self.launched else self.verdict()

    def receive_failed(self) -> Verdict | None:
        """An edge's source failed (or was skipped because something above it failed)."""
        self.resolved += 1
        self.failed_inputs += 1
        return None if self.launched else self.verdict()

    def verdict(self) -> Verdict | None:
        """What the join makes of the inputs resolved so far; None while it must wait."""
        if self.waits_all:
            if self.resolved < self.total:
                return None
            if self.failed_inputs:
                return Verdict.UPSTREAM_FAILED
            return Verdict.LAUNCH if self.active else Verdict.NO_INPUT
        need = self.need
        if self.active >= need:
            return Verdict.LAUNCH
        if self.active + (self.total - self.resolved) < need:
            return Verdict.UPSTREAM_FAILED if self.failed_inputs else Verdict.QUORUM_NOT_REACHED
        return None

    # -- state changes ------------------------------------------------------------------

    def launch(self) -> None:
        self.launched = True
        self.state = NodeState.RUNNING

    def skip(self) -> None:
        self.launched = True
        self.state = NodeState.SKIPPED

    def next_key(self, prefix: str) -> str:
        """Count a new run of the node and return its execution key.

        The key names the node inside its (sub-)workflow, with ``#n`` from a
        loop's second pass on: the journal and a resume find calls by it.
        """
        runs = self.runs
        self.runs = runs + 1
        key = prefix + self.node.name if prefix else self.node.name
        return f"{key}#{runs}" if runs else key

    def rewind(self, body: frozenset[str]) -> None:
        """Forget what the loop ``body`` delivered, for the loop's next pass.

        Inputs from outside the loop stay resolved (and their artifacts stay),
        so the node waits only for the loop's own edges again.
        """
        self.state = NodeState.PENDING
        self.launched = False
        arrived = self.arrivals
        for source in [s for s in arrived if s in body]:
            del arrived[source]
        outside = [e for e in self.node.incoming if e.source not in body]
        self.resolved = len(outside)
        self.active = sum(1 for e in outside if e.source in arrived)
        self.failed_inputs = 0
