"""Run the distributed quickstart with one command: broker, agents, workflow, shutdown.

    python examples/distributed/launch.py                      # starts its own Mosquitto
    python examples/distributed/launch.py --broker mqtt://127.0.0.1:1883
    python examples/distributed/launch.py --json --report /tmp/report.md

It starts a Mosquitto with weft's config on a free port (unless --broker is
given), one process per agent below (two replicas of the analyst, which
share its pool), waits until every action is served, runs
``weft run workflow.yaml --broker ...``, lists the agents with ``weft agents``,
then stops the agents with SIGTERM (they drain) and the broker. The exit
status is the run's.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
QUICKSTART = HERE.parent / "quickstart"

#: name -> (tools it serves, replicas)
AGENTS: dict[str, tuple[list[str], int]] = {
    "reader": (["list_documents", "read_document"], 1),
    "analyst": (["text_statistics", "readability"], 2),
    "vocabulary": (["build_vocabulary", "keywords"], 1),
    "writer": (["write_report"], 1),
}


async def main(args: argparse.Namespace) -> int:
    from weft.runtime.bus.mqtt.broker import MosquittoBroker
    from weft.runtime.bus.mqtt.mqtt_bus import MqttBus
    from weft.runtime.remote.live_registry import LiveRegistry

    broker = None
    url = args.broker
    if url is None:
        broker = MosquittoBroker()
        await broker.start()
        url = broker.url
        print(f"started mosquitto on {url}", file=sys.stderr)
    namespace = args.namespace or f"quickstart-{uuid.uuid4().hex[:8]}"
    weft = [sys.executable, "-m", "weft"]
    where = ["--broker", url, "--namespace", namespace]
    agents: list[asyncio.subprocess.Process] = []
    try:
        for name, (tools, replicas) in AGENTS.items():
            targets = [f"quickstart_tools:{tool}" for tool in tools]
            for _ in range(replicas):
                agents.append(
                    await asyncio.create_subprocess_exec(
                        *weft,
                        "agent",
                        "serve",
                        *targets,
                        "--name",
                        name,
                        "--path",
                        str(QUICKSTART),
                        *where,
                        "--log-level",
                        "WARNING",
                    )
                )
        async with MqttBus(url, namespace=namespace) as bus, LiveRegistry(bus) as registry:
            everything = [tool for tools, _ in AGENTS.values() for tool in tools]
            await registry.wait_for(everything, timeout=60)
        run_args = [*weft, "run", str(HERE / "workflow.yaml"), *where]
        if args.report:
            run_args += ["-i", f"report={Path(args.report).resolve()}"]
        if args.json:
            run_args.append("--json")
        run = await asyncio.create_subprocess_exec(*run_args)
        status = await run.wait()
        if not args.json:
            listing = await asyncio.create_subprocess_exec(*weft, "agents", *where)
            await listing.wait()
        return status
    finally:
        for agent in agents:
            if agent.returncode is None:
                agent.send_signal(signal.SIGTERM)
        for agent in agents:
            await agent.wait()
        if broker is not None:
            await broker.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--broker", help="MQTT v5 broker URL (default: start a Mosquitto)")
    parser.add_argument("--namespace", help="topic namespace (default: a fresh one)")
    parser.add_argument("--report", help="where to write the report")
    parser.add_argument("--json", action="store_true", help="print the run result as JSON")
    sys.exit(asyncio.run(main(parser.parse_args())))
