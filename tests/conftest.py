"""Fixtures shared by the whole suite (MQTT brokers for the bus tests) and its markers.

Bus tests never skip for want of a broker: a missing broker is a failure with
instructions, because a bus suite that silently skips its MQTT half proves
nothing about MQTT.

Markers are given by where a test lives (``MARKS``), so a new test file is
marked by the folder it is put in: ``python -m pytest -m core`` runs the fast
in-process core (engine, workflows, agents, protocols, the package's shape) in
a few seconds; ``-m "not slow"`` leaves out what starts processes and brokers.
The markers are registered in ``pyproject.toml`` (``--strict-markers``).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker import MosquittoBroker

#: Any real (non-loopback) model request fails in every test.
pytest_plugins = ["weft.testing.pytest_plugin"]

DEFAULT_TEST_BROKER = ("127.0.0.1", 1883)

#: path under tests/ (a folder ends with "/") -> markers for every test in it
MARKS: dict[str, tuple[str, ...]] = {
    # the fast core: in one process, no broker, no Chroma
    "workflows/": ("core",),
    "workflows/test_foreach_literal.py": ("core",),
    "interop/": ("core",),
    "interop_a2a/test_a2a_cards.py": ("core",),
    "interop_a2a/test_a2a_http.py": ("core",),
    "interop_a2a/test_a2a_http_auth.py": ("core",),
    "interop_a2a/test_a2a_push.py": ("core",),
    "interop_a2a/test_a2a_push_policy.py": ("core",),
    "interop_a2a/test_a2a_llm_resume.py": ("core",),
    "interop_a2a/test_a2a_mqtt_agent.py": ("core",),
    "interop_a2a/test_a2a_agents_cli.py": ("mqtt",),
    "interop_a2a/test_a2a_mqtt_conformance.py": ("mqtt",),
    "interop_a2a/test_a2a_mqtt_action.py": ("mqtt",),
    "interop_a2a/test_a2a_ask.py": ("mqtt",),
    "interop_a2a/test_a2a_llm_streaming.py": ("mqtt",),
    "interop_a2a/test_a2a_processes.py": ("mqtt", "slow"),
    "interop_a2a/test_a2a_served_tracebacks.py": ("mqtt", "slow"),
    "interop_a2a/test_a2a_served_traces.py": ("mqtt", "slow"),
    "interop_a2a/test_agent_serve_a2a_traces.py": ("mqtt", "slow"),
    "agents/": ("core",),
    "protocols/": ("core",),
    "llm/test_model_errors.py": ("core",),
    "llm/test_tool_choice_steps.py": ("core",),
    "llm/test_session_agent_tools.py": ("core",),
    "llm/test_handoff_session_tools.py": ("core",),
    "llm/test_llm_examples.py": ("core",),
    "llm/test_llm_checks.py": ("core",),
    "llm/test_openai_agents_docs.py": ("core",),
    "llm/test_llm_handoffs.py": ("core",),
    "llm/test_llm_sessions.py": ("core",),
    "llm/test_llm_yaml_handoffs.py": ("core",),
    "llm/test_llm_session_cli.py": ("core",),
    "docs/": ("core",),  # the pages' code blocks, parsed and loaded, none run
    "llm/test_run_one_action.py": ("core",),
    "runtime/test_executor.py": ("core",),
    "runtime/test_run_outputs.py": ("core",),
    "runtime/test_resume.py": ("core",),
    "runtime/test_human_input.py": ("core",),
    "runtime/test_critic_asks.py": ("core",),
    "runtime/test_skip_reasons.py": ("core",),
    "runtime/test_resume_state.py": ("core",),
    "runtime/test_resume_leases.py": ("core",),
    "runtime/test_sync_tools.py": ("core",),
    "runtime/test_thread_timeouts.py": ("core",),
    "runtime/test_tracing_spans.py": ("core",),
    "runtime/test_recording.py": ("core",),
    "runtime/test_remote_trace.py": ("core",),
    "runtime/test_secrets.py": ("core",),
    "runtime/test_remote_once.py": ("core",),
    "runtime/test_idempotency_key.py": ("core",),
    "runtime/test_card_trust.py": ("core",),
    "runtime/test_card_verifier.py": ("core",),
    "conformance/test_journal_conformance.py": ("core",),
    "runtime/test_journal_durable.py": ("core",),
    "runtime/test_store_caps.py": ("core",),
    "runtime/test_soak_release.py": ("core",),
    "runtime/test_remote_caller_heard.py": ("core",),
    "cli/test_prune_cli.py": ("core",),
    "traces/test_trace_prune.py": ("core",),
    "traces/test_trace_show_asks_loops.py": ("core",),
    "traces/test_trace_route_skipped.py": ("core",),
    "traces/test_trace_ls_running.py": ("core",),
    "traces/test_trace_show_local_agents.py": ("core",),
    "test_layers.py": ("core",),
    "test_public_api.py": ("core",),
    "cli/test_run_placement.py": ("core",),
    "cli/test_run_routed_to.py": ("core",),
    "cli/test_ask_progress.py": ("core",),
    "cli/test_run_display.py": ("core",),
    "cli/test_langgraph_summary.py": ("core",),
    "cli/test_yaml_limits_cli.py": ("core",),
    "cli/test_json_output.py": ("core",),
    "cli/test_agents_json.py": ("core",),
    "cli/test_keys_cli.py": ("core",),
    "cli/test_new_command_mistakes.py": ("core",),
    "cli/test_trial_mistakes.py": ("core",),
    "cli/test_broker_url_mistakes.py": ("core",),
    "cli/test_trial_gates.py": ("core",),
    "orchestrator/test_ask_resume.py": ("core",),
    "orchestrator/test_ask_resume_learning.py": ("core",),
    "orchestrator/test_ask_resume_budget.py": ("core",),
    "orchestrator/test_ask_workflow_budget.py": ("core",),
    "orchestrator/test_ask_workflow_budget_results.py": ("core",),
    "orchestrator/test_ask_workflow_resume_answer.py": ("core",),
    "orchestrator/test_instant_spans.py": ("core",),
    "orchestrator/test_ask_plan_span.py": ("core",),
    "orchestrator/test_rule_planner_sentences.py": ("core",),
    "orchestrator/test_ask_yaml_agents.py": ("core",),
    "orchestrator/test_ask_budget_answer.py": ("core",),
    # a broker: the shared Mosquitto on 127.0.0.1:1883 or one the test starts
    "runtime/test_mqtt_bus.py": ("mqtt",),
    "runtime/test_mqtt_reconnect_log.py": ("mqtt",),
    "runtime/test_broker.py": ("mqtt",),
    "runtime/test_mqtt_subscription_ids.py": ("mqtt",),
    "conformance/test_bus_conformance.py": ("mqtt",),
    "cli/test_broker_command.py": ("mqtt", "slow"),
    "cli/test_run_placement_remote.py": ("mqtt", "slow"),
    "llm/test_streaming_remote.py": ("mqtt",),
    "cli/test_agent_serve_lines.py": ("mqtt",),
    "cli/test_agents_host_column.py": ("mqtt",),
    "cli/test_agent_serve_workflow_file.py": ("mqtt",),
    "orchestrator/test_remote_agents.py": ("mqtt", "slow"),
    "routing/test_cli_route.py": ("mqtt", "chroma"),
    "cli/test_route_broker_rule.py": ("chroma",),
    "bench/test_bus_bench_smoke.py": ("mqtt",),
    "bench/test_topologies_bench_smoke.py": ("mqtt",),
    "bench/test_hops_smoke.py": ("mqtt",),
    "bench/test_teams_bench_smoke.py": ("mqtt",),
    # MCP servers started as processes (stdio and streamable HTTP), and agents serving them
    "interop_mcp/": ("slow",),
    "interop_mcp/test_mcp_agent_serve.py": ("mqtt", "slow"),
    "interop_mcp/test_mcp_list_changed.py": ("slow",),
    "interop_mcp/test_mcp_elicit_client.py": ("slow",),
    "interop_mcp/test_mcp_elicit_serve.py": ("slow",),
    "interop_mcp/test_mcp_serve_changes.py": ("mqtt", "slow"),
    "security/": ("mqtt", "slow"),
    "distributed/": ("mqtt", "slow"),
    "examples/test_distributed_example.py": ("mqtt",),
    "teams/test_team_buses.py": ("mqtt",),
    # Chroma (embedded) under the capability index
    "routing/test_capability_index.py": ("chroma",),
    "routing/test_router.py": ("chroma",),
    "routing/test_route_batch.py": ("chroma",),
    "routing/test_learned.py": ("chroma",),
    "routing/test_similarity_scale.py": ("chroma",),
    "routing/test_embedder_setting.py": ("chroma",),
    "routing/test_card_text.py": ("core",),
    "routing/test_llm_choice.py": ("chroma",),
    "routing/test_instruction.py": ("core",),
    "routing/test_no_fit.py": ("chroma",),
    "routing/test_route_agents_refs.py": ("chroma",),
    "routing/test_route_rerank_default.py": ("chroma",),
    # llama-cpp-python running SmolLM2's GGUF (the --rerank-model scorer)
    "routing/test_likelihood_llama_cpp.py": ("chroma", "slow"),
    "routing/test_packaged_models.py": ("core",),
    "cli/test_route_batch_streams.py": ("core",),
    # IoA teams and FoA clusters, in process (test_team_buses.py also runs over MQTT)
    "teams/test_flow_control.py": ("core",),
    "teams/test_team_rules.py": ("core",),
    "teams/test_team_members.py": ("core",),
    "teams/test_team_nesting.py": ("core",),
    "teams/test_team_scale.py": ("core",),
    "teams/test_cluster.py": ("core",),
    "teams/test_team_yaml.py": ("core",),
    "teams/test_team_validate.py": ("core",),
    "teams/test_team_addressing.py": ("core",),
    "teams/test_team_replay.py": ("core",),
    "teams/test_plan_clusters.py": ("core",),
    "teams/test_team_formation.py": ("core",),
    "teams/test_team_questions.py": ("core",),
    "teams/test_team_transitions.py": ("core",),
    "teams/test_team_assign_checks.py": ("core",),
    "teams/test_team_pause_checks.py": ("core",),
    "teams/test_team_task_ids.py": ("core",),
    "teams/test_team_text_replies.py": ("core",),
    "teams/test_crewai_docs.py": ("core",),
    # MacNet networks of agents; capability nodes route with MiniLM over embedded Chroma
    "macnet/test_agent_network.py": ("core",),
    "macnet/test_topology_cli.py": ("core",),
    "macnet/test_capability_nodes.py": ("chroma",),
    "macnet/test_topology_broker.py": ("mqtt", "chroma"),
    # experience memory: embedded Chroma; the server tests start a `chroma run`
    "memory/": ("chroma",),
    "memory/test_ask_resume_outcomes.py": ("chroma",),
    "memory/test_resumed_ask_experience.py": ("chroma",),
    "memory/test_store_conformance.py": ("chroma", "slow"),
    "memory/test_memory_cli.py": ("chroma", "slow"),
    "memory/test_shared_memory.py": ("chroma", "slow"),
    # a real OpenAI-compatible server (llama-cpp-python) the session starts
    "real_llm/": ("real_llm", "slow"),
    # a headless browser
    "traces/test_trace_view_browser.py": ("browser", "slow"),
    # processes started, examples and benchmarks run end to end
    "examples/": ("slow",),
    "bench/": ("slow",),
    "cli/test_cli.py": ("slow",),
    "cli/test_resume_lease.py": ("slow",),
    "cli/test_interrupt.py": ("slow",),
    "cli/test_broker_rule.py": ("slow",),
    "cli/test_storage_errors.py": ("slow",),
    "runtime/test_recording_cli.py": ("slow",),
    "runtime/test_journal_crash.py": ("slow",),
    "runtime/test_trace_log_bounded.py": ("slow",),  # a trace writer process
    "cli/test_secrets_cli.py": ("slow",),
    "llm/test_llm_yaml_actions.py": ("slow",),
    "llm/test_llm_yaml_routing.py": ("slow", "chroma"),
    "traces/test_trace_writer.py": ("slow",),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    tests = Path(__file__).parent
    stale = [path for path in MARKS if not (tests / path).exists()]
    if stale:  # a moved file would silently lose its markers
        raise pytest.UsageError(f"tests/conftest.py MARKS names missing paths: {stale}")
    for item in items:
        where = item.path.relative_to(tests).as_posix()
        for prefix, names in MARKS.items():
            if where == prefix or (prefix.endswith("/") and where.startswith(prefix)):
                for name in names:
                    item.add_marker(name)


@pytest.fixture(scope="session")
def _model_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One folder for the likelihood model's converted weights (0.5 GB) per test session:
    built once by the first test that loads the model, deleted at the end."""
    folder = tmp_path_factory.mktemp("model-cache")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(autouse=True)
def _weft_home_in_tmp(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, _model_cache: Path
) -> None:
    """Journals and trace stores that a test does not place itself go to a temporary folder,
    never into the working tree; so does the model cache (shared by the session's tests)."""
    monkeypatch.setenv("WEFT_HOME", str(tmp_path_factory.mktemp("weft-home")))
    monkeypatch.setenv("WEFT_MODEL_CACHE", str(_model_cache))


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def mqtt_broker_url() -> AsyncIterator[str]:
    """URL of an MQTT v5 broker for functional bus tests.

    ``$WEFT_TEST_BROKER`` (``mqtt://host:port`` or ``host:port``) when set, else
    the broker on 127.0.0.1:1883 if it answers, else a Mosquitto started here
    with weft's config for the whole session.
    """
    configured = os.environ.get("WEFT_TEST_BROKER")
    if configured:
        yield configured if "://" in configured else f"mqtt://{configured}"
        return
    if _answers(*DEFAULT_TEST_BROKER):
        yield "mqtt://{}:{}".format(*DEFAULT_TEST_BROKER)
        return
    broker = MosquittoBroker()
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(
            "the MQTT bus tests need a broker: set WEFT_TEST_BROKER=mqtt://host:port, run one "
            f"on 127.0.0.1:1883, or install mosquitto so the tests can start one ({exc})",
            pytrace=False,
        )
    try:
        yield broker.url
    finally:
        await broker.stop()


@pytest.fixture
async def weft_broker() -> AsyncIterator[MosquittoBroker]:
    """A private Mosquitto with weft's config (set_tcp_nodelay) on a free loopback port.

    For tests about latency or broker restarts, which must not depend on, or
    disturb, a shared broker.
    """
    broker = MosquittoBroker()
    try:
        await broker.start()
    except BusError as exc:
        pytest.fail(f"cannot start a Mosquitto for this test: {exc}", pytrace=False)
    try:
        yield broker
    finally:
        await broker.stop()


@pytest.fixture
def no_model_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No model configured from the environment: a test's agents use only the test server
    they are pointed at, and LLM spans keep no content unless the test asks."""
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "WEFT_MODEL", "WEFT_TRACE_CONTENT"):
        monkeypatch.delenv(name, raising=False)
