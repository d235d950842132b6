"""Reading a big workflow file: libyaml's parser against PyYAML's own, under weft's composer.

    python bench/yaml_load.py                  # 1,000 and 5,000 nodes, appended to RESULTS.md
    python bench/yaml_load.py --no-save --nodes 1000 --repeats 3

A layered MacNet topology (``layered`` of width 10, as ``weft topology layered``
writes it, a few hundred KB of YAML at 1,000 nodes) is written to text once;
then ``loads_workflow`` reads it with each parser, in turns, ``--repeats`` times,
and the median is reported with the ratio. Both must give the same spec (checked
each time): the number is only worth having if the result is the same. The
composer (``weft/workflows/_yaml_compose.py``: load limits, nesting, aliases) is
the same Python code in both; what differs is the scanner and parser under it.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import weft.workflows._yaml_compose as compose
from weft.workflows import dumps_workflow, loads_workflow
from weft.workflows.topologies import layered

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def timed(text: str, libyaml: bool) -> tuple[float, dict[str, object]]:
    """Seconds to read ``text`` with the chosen parser, and the spec read."""
    compose._LIBYAML = libyaml
    began = time.perf_counter()
    spec = loads_workflow(text, file="bench.yaml")
    return time.perf_counter() - began, spec.model_dump(mode="json")


def measure(nodes: int, repeats: int) -> tuple[int, float, float]:
    """``(bytes, libyaml median s, python median s)`` for a ``nodes``-node topology."""
    text = dumps_workflow(layered(nodes // 10, 10, "relay").build())
    fast: list[float] = []
    slow: list[float] = []
    for _ in range(repeats):
        c_time, c_spec = timed(text, True)
        p_time, p_spec = timed(text, False)
        if c_spec != p_spec:
            raise SystemExit(f"{nodes} nodes: the two parsers read different specs")
        fast.append(c_time)
        slow.append(p_time)
    return len(text.encode()), statistics.median(fast), statistics.median(slow)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", default="1000,5000", help="node counts, comma-separated")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-save", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if not compose._LIBYAML:
        raise SystemExit("PyYAML here has no libyaml: nothing to compare")
    rows = [
        "| nodes | YAML | libyaml parser | Python parser | Python / libyaml |",
        "|---:|---:|---:|---:|---:|",
    ]
    for nodes in (int(n) for n in args.nodes.split(",")):
        size, fast, slow = measure(nodes, args.repeats)
        rows.append(
            f"| {nodes:,} | {size / 1024:,.0f} KB | {fast:.3f} s | {slow:.3f} s "
            f"| {slow / fast:.1f}x |"
        )
    compose._LIBYAML = True
    machine = (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"{platform.system()} {platform.release()}, load {os.getloadavg()[0]:.1f}"
    )
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    command = "python bench/yaml_load.py " + " ".join(argv if argv is not None else sys.argv[1:])
    table = "\n".join(rows)
    print(table)
    print(f"\n_{machine}; median of {args.repeats}_")
    if not args.no_save:
        with RESULTS.open("a") as out:
            out.write(
                f"\n## Reading a big workflow file: libyaml vs Python parser, {when}\n\n"
                f"`{command.strip()}` (both parsers under weft's composer, same spec checked)\n\n"
                f"{table}\n\n_{machine}; median of {args.repeats}_\n"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
