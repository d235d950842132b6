"""User mistakes on the newer commands give one weft line and exit 2, never a traceback.

Found by trying ``weft topology``, ``weft a2a serve``, ``weft mcp serve`` and
``weft route`` from the docs as a new user would; each case here was a
traceback, an out-of-memory kill or a silently ignored option before.
"""

from __future__ import annotations

import socket
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from weft.cli import cli
from weft.protocols import NodeState
from weft.runtime.engine.runner import run_workflow
from weft.runtime.routing.lexical_router import LexicalRouter
from weft.workflows.casting import Capability
from weft.workflows.topologies import generate

ROOT = Path(__file__).resolve().parents[2]
CARDS = ROOT / "bench" / "data" / "agents.yaml"


def weft(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def assert_user_mistake(result: Result, *words: str) -> None:
    """Exit 2, no exception escaped to click, and the message names every word."""
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert result.exit_code == 2, result.output
    for word in words:
        assert word in result.output


@pytest.fixture
def word_count(tmp_path: Path) -> str:
    (tmp_path / "tools.py").write_text(
        textwrap.dedent(
            '''
            from weft import tool

            @tool
            def word_count(text: str) -> dict[str, int]:
                """Count the words of a text."""
                return {"words": len(text.split())}
            '''
        )
    )
    return f"{tmp_path / 'tools.py'}:word_count"


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def test_a_topology_too_large_for_a_workflow_file_is_refused_before_it_is_built(
    tmp_path: Path,
) -> None:
    out = tmp_path / "mesh.yaml"
    result = weft("topology", "mesh", "--nodes", "5000", "-o", str(out))
    assert_user_mistake(result, "topology mesh --nodes 5000", "12,497,500 edges")
    assert not out.exists()


def test_a_chain_of_a_hundred_million_nodes_is_refused_too(tmp_path: Path) -> None:
    result = weft("topology", "chain", "--nodes", "100000000", "-o", str(tmp_path / "c.yaml"))
    assert_user_mistake(result, "WEFT_YAML_MAX_VALUES")


def test_a_raised_yaml_limit_lets_a_larger_topology_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEFT_YAML_MAX_VALUES", "10")
    refused = weft("topology", "chain", "--nodes", "3", "-o", str(tmp_path / "c.yaml"))
    assert_user_mistake(refused, "10 values")
    monkeypatch.setenv("WEFT_YAML_MAX_VALUES", "100")
    assert weft("topology", "chain", "--nodes", "3", "-o", str(tmp_path / "c.yaml")).exit_code == 0


def test_a_topology_output_that_cannot_be_written_names_the_path(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "net.yaml"  # a folder that is a file
    result = weft("topology", "chain", "--nodes", "3", "-o", str(out))
    assert_user_mistake(result, f"--output {out}", "cannot write")


def test_a_reducer_that_cannot_be_imported_is_refused_before_the_file_is_written(
    tmp_path: Path,
) -> None:
    out = tmp_path / "t.yaml"
    result = weft("topology", "layered", "--nodes", "6", "--reducer", "nosuch:fn", "-o", str(out))
    assert_user_mistake(result, "--reducer nosuch:fn", "cannot import module 'nosuch'")
    assert not out.exists()
    typo = weft("topology", "layered", "--nodes", "6", "--reducer", "concatt", "-o", str(out))
    assert_user_mistake(typo, "did you mean 'concat'")


def test_an_empty_capability_is_a_usage_mistake(tmp_path: Path) -> None:
    result = weft(
        "topology", "chain", "--nodes", "2", "--capability", " ", "-o", str(tmp_path / "x")
    )
    assert_user_mistake(result, "--capability")


@pytest.mark.parametrize("command", [("a2a", "serve"), ("mcp", "serve")])
def test_a_port_out_of_range_is_a_usage_error_of_http(command: tuple[str, str]) -> None:
    result = weft(*command, "nomodule:x", "--http", "127.0.0.1:99999")
    assert_user_mistake(result, "--http", "port 99999 is outside 0..65535")


def test_a2a_serve_on_a_taken_port_says_it_cannot_listen(word_count: str, taken_port: int) -> None:
    result = weft("a2a", "serve", word_count, "--http", f"127.0.0.1:{taken_port}")
    assert_user_mistake(result, f"cannot listen on 127.0.0.1:{taken_port}")


def test_a2a_serve_refuses_a_pool_without_mqtt(word_count: str) -> None:
    result = weft("a2a", "serve", word_count, "--pool", "p", "--http", "127.0.0.1:0")
    assert_user_mistake(result, "--pool", "--mqtt")


def test_route_with_an_openai_embedder_and_no_endpoint_says_what_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    result = weft("route", "fix a bug", "--cards", str(CARDS), "--embedder", "openai:m")
    assert_user_mistake(result, "--embedder openai:m", "OPENAI_API_KEY", "OPENAI_BASE_URL")


async def test_a_capability_node_with_no_action_to_choose_from_says_so() -> None:
    wf = generate("chain", 1, Capability("translate the ticket into English"))
    result = await run_workflow(wf, {"task": "hola"}, router=LexicalRouter(), record=False)
    outcome = result.nodes["n0"]
    assert outcome.state is NodeState.FAILED and outcome.error is not None
    assert "no action to choose from" in outcome.error.message
    assert "no agent fits" not in outcome.error.message


def test_a_failed_run_on_langgraphs_engine_is_journaled_and_offers_a_resume(
    tmp_path: Path,
) -> None:
    (tmp_path / "broken.py").write_text(
        "from weft import tool\n\n@tool\ndef broken(x: int) -> int:\n"
        "    raise RuntimeError('service unavailable')\n"
    )
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        "name: flow\nactions:\n  broken: {python: 'broken:broken'}\n"
        "nodes:\n  only: {action: broken, with: {x: 1}}\n"
    )
    result = CliRunner().invoke(
        cli, ["run", "--engine", "langgraph", str(flow)], env={"WEFT_HOME": str(tmp_path)}
    )
    assert result.exit_code == 1, result.output
    assert "service unavailable" in result.stdout
    assert "resume with: weft resume" in result.stdout  # journaled: weft resume finishes it


def test_a_module_saved_after_its_folder_was_looked_at_is_still_imported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Python caches a folder's listing by its mtime; a file saved within the same tick
    (the mtime put back here, deterministically) was "No module named" in one process."""
    import os

    from weft.protocols import DefinitionError
    from weft.runtime.engine.compiler import import_object

    monkeypatch.syspath_prepend(str(tmp_path))
    module = f"saved_late_{uuid.uuid4().hex[:10]}"
    with pytest.raises(DefinitionError, match="cannot import module"):
        import_object(f"{module}:value")  # the folder's listing is cached now
    before = os.stat(tmp_path)
    (tmp_path / f"{module}.py").write_text("value = 42\n")
    os.utime(tmp_path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert import_object(f"{module}:value") == 42


def test_a_topology_of_capabilities_alone_says_where_it_can_run(tmp_path: Path) -> None:
    out = tmp_path / "net.yaml"
    result = weft("topology", "chain", "--nodes", "2", "--capability", "translate", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert f"weft run {out} --broker URL" in result.output


def test_an_unreachable_broker_points_at_the_weft_broker_command() -> None:
    result = weft("agents", "--broker", "mqtt://127.0.0.1:1")
    assert_user_mistake(result, "cannot reach MQTT broker at mqtt://127.0.0.1:1", "`weft broker`")


def test_agents_refuses_json_and_the_a2a_format_together() -> None:
    result = weft("agents", "--json", "--format", "a2a", "--broker", "mqtt://127.0.0.1:1")
    assert_user_mistake(result, "--json", "--format a2a")


NAMESPACED = [
    ["agents", "--namespace", "{ns}"],
    ["agent", "serve", "examples/quickstart/tools.py", "--namespace", "{ns}"],
    ["route", "add numbers", "--namespace", "{ns}"],
    ["run", "examples/quickstart/workflow.yaml", "--namespace", "{ns}"],
    ["ask", "add numbers", "--namespace", "{ns}"],
    ["mcp", "serve", "--namespace", "{ns}"],
    ["a2a", "serve", "--namespace", "{ns}"],
]


@pytest.mark.parametrize("argv", NAMESPACED, ids=lambda a: " ".join(a[:2]))
@pytest.mark.parametrize("namespace", ["", "team/a", "+", "a#"])
def test_a_namespace_that_is_no_topic_level_is_a_usage_error(
    argv: list[str], namespace: str
) -> None:
    """Found by calling every command with odd option values: a bad --namespace was a
    ValueError traceback from deep in the bus, after the command had started."""
    result = weft(*(a.replace("{ns}", namespace) for a in argv))
    assert_user_mistake(result, "--namespace", repr(namespace))


def test_a_batch_file_that_is_not_text_names_the_file(tmp_path: Path) -> None:
    batch = tmp_path / "tasks.jsonl"
    batch.write_bytes(b"\xc5\xff\x00binary")
    result = weft("route", "--cards", str(CARDS), "--batch", str(batch))
    assert_user_mistake(result, str(batch), "not UTF-8")


def test_agent_serve_refuses_an_unknown_log_level() -> None:
    result = weft("agent", "serve", "examples/quickstart/tools.py", "--log-level", "loud")
    assert_user_mistake(result, "--log-level", "loud")


VARIADIC = """
def loose(*args, **kwargs):
    return len(args)
"""


def test_a_function_weft_cannot_describe_is_named_at_its_actions_line(tmp_path: Path) -> None:
    """Found by writing a team member as ``def alice(message="", **_)``: ``weft validate``
    and ``weft run`` printed a TypeError traceback from deep in the tool adapter."""
    (tmp_path / "loose_tools.py").write_text(VARIADIC)
    flow = tmp_path / "wf.yaml"
    flow.write_text(
        textwrap.dedent(
            """\
            name: loose
            actions:
              loose: {python: "loose_tools:loose"}
            nodes:
              a: {action: loose}
            """
        )
    )
    result = weft("validate", str(flow))
    assert_user_mistake(result, f"{flow}:3:", "action 'loose'", "*args/**kwargs")


def test_agent_serve_names_a_function_it_cannot_describe(tmp_path: Path) -> None:
    (tmp_path / "loose_tools.py").write_text(VARIADIC)
    result = weft("agent", "serve", f"{tmp_path / 'loose_tools.py'}:loose")
    assert_user_mistake(result, "loose", "*args/**kwargs")


@pytest.mark.parametrize(
    "argv",
    [
        ["route", "add up", "--cards", str(CARDS), "--max-cost", "{v}"],
        ["route", "add up", "--cards", str(CARDS), "--min-score", "{v}"],
        ["memory", "match", "write a report", "--threshold", "{v}"],
        ["ask", "add numbers", "--max-cost", "{v}"],
        ["run", "examples/quickstart/workflow.yaml", "--wait-agents", "{v}"],
    ],
    ids=lambda a: f"{a[0]} {a[-2]}",
)
@pytest.mark.parametrize("value", ["nan", "inf"])
def test_numbers_that_are_not_finite_are_usage_errors(argv: list[str], value: str) -> None:
    """Found by calling commands with odd values: click's FloatRange lets nan through,
    and ``route --max-cost nan`` (or -1) was a pydantic traceback."""
    result = weft(*(a.replace("{v}", value) for a in argv))
    assert_user_mistake(result, argv[-2], "not a finite number")


def test_a_negative_budget_for_route_is_a_usage_error() -> None:
    result = weft("route", "add up", "--cards", str(CARDS), "--max-cost", "-1")
    assert_user_mistake(result, "--max-cost", "x>=0")
