"""A broker that refuses the login or is not trusted: one line from the CLI, naming both.

``weft run --broker``, ``weft agent serve --broker`` and a workflow's
``a2a: mqtt://`` action against a Mosquitto with a password file (and one
with TLS whose CA the client was not given): the command exits 2 at once
with a single ``error:`` line that names the broker (host and port, the
password masked or left out) and the cause in words a user acts on, never
a traceback or a wait for agents.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from weft.runtime.bus.mqtt.broker import MosquittoBroker

from .conftest import Pki, SecuredBroker

WRONG = "wrong-guess"
TOOLS = """\
import weft

@weft.tool
def echo(value: str = "") -> str:
    return value
"""
#: A workflow that needs nothing from the broker: only the connect is under test.
LOCAL = """\
name: local
actions:
  echo: {python: "refusal_tools:echo"}
nodes:
  a: {action: echo, with: {value: x}}
"""


def weft(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``python -m weft ARGS`` in its own process in ``folder`` (with ``refusal_tools.py``
    and ``wf.yaml``, the workflow that needs nothing remote), as a user runs it."""
    (folder / "refusal_tools.py").write_text(TOOLS)
    if not (folder / "wf.yaml").exists():
        (folder / "wf.yaml").write_text(LOCAL)
    return subprocess.run(
        [sys.executable, "-m", "weft", *args],
        cwd=folder,
        env={**os.environ, "WEFT_HOME": str(folder)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The command failed as a user mistake: exit 2, one ``error:`` line, no traceback."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    return line


def host_port(broker: MosquittoBroker) -> str:
    return broker.url.split("://", 1)[1]


def test_weft_run_with_a_wrong_password_names_the_broker_and_the_refused_login(
    tmp_path: Path, secured: SecuredBroker
) -> None:
    url = secured.url("alice", WRONG)
    line = one_error_line(weft(tmp_path, "run", "wf.yaml", "--broker", url))
    assert f"MQTT broker at mqtt://alice:***@{host_port(secured.broker)}" in line
    assert "not authorized: the login of user 'alice' was refused" in line
    assert "bad password" in line
    assert WRONG not in line


def test_weft_run_without_a_login_says_the_broker_wants_one(
    tmp_path: Path, secured: SecuredBroker
) -> None:
    line = one_error_line(weft(tmp_path, "run", "wf.yaml", "--broker", secured.url()))
    assert f"MQTT broker at {secured.url()}" in line
    assert "admits no client without a login" in line


def test_weft_agent_serve_with_a_wrong_password_stops_with_one_line(
    tmp_path: Path, secured: SecuredBroker
) -> None:
    url = secured.url("alice", WRONG)
    line = one_error_line(
        weft(tmp_path, "agent", "serve", "refusal_tools.py:echo", "--broker", url)
    )
    assert f"MQTT broker at mqtt://alice:***@{host_port(secured.broker)}" in line
    assert "the login of user 'alice' was refused" in line
    assert WRONG not in line


def test_weft_run_against_a_broker_it_does_not_trust_says_to_give_its_ca(
    tmp_path: Path, tls_broker: MosquittoBroker
) -> None:
    line = one_error_line(weft(tmp_path, "run", "wf.yaml", "--broker", tls_broker.url))
    assert f"MQTT broker at {tls_broker.url}" in line
    assert "TLS: certificate verify failed" in line
    assert "?ca=FILE" in line


def test_a_client_certificate_the_broker_refuses_is_one_line_naming_the_tls_alert(
    tmp_path: Path, tls_broker: MosquittoBroker, pki: Pki
) -> None:
    # The TLS alert reaches paho's read after the handshake: said in the error line
    # itself, not in a log line of its own before it.
    without = f"{tls_broker.url}?ca={pki.ca}"
    line = one_error_line(weft(tmp_path, "run", "wf.yaml", "--broker", without))
    assert "the broker closed the connection before accepting it (TLS: " in line
    assert "alert certificate required; does it require a client certificate" in line
    rogue = f"{without}&cert={pki.rogue_cert}&key={pki.rogue_key}"
    line = one_error_line(weft(tmp_path, "agents", "--broker", rogue))
    # Under load the broker's close can overtake its alert (seen once in CI: paho then
    # reads a bare EOF). The line must still name the likely cause either way.
    assert "does it require a client certificate, and trust this one?" in line
    assert "alert unknown ca;" in line or "(EOF occurred in violation of protocol" in line


def test_plain_mqtt_to_a_tls_port_is_one_line(tmp_path: Path, tls_broker: MosquittoBroker) -> None:
    plain = tls_broker.url.replace("mqtts://", "mqtt://")
    line = one_error_line(weft(tmp_path, "run", "wf.yaml", "--broker", plain))
    assert "closed the connection before accepting it (" in line
    assert "is this a TLS listener? then use mqtts://)" in line


def test_a_workflow_s_a2a_agent_behind_a_wrong_password_is_an_error_at_its_line(
    tmp_path: Path, secured: SecuredBroker
) -> None:
    agent = secured.url("bob", WRONG) + "/acme/ops/shouter"
    (tmp_path / "wf.yaml").write_text(
        f'name: a2a-login\nactions:\n  shout: {{a2a: "{agent}"}}\n'
        "nodes:\n  a: {action: shout, with: {text: hi}}\n"
    )
    line = one_error_line(weft(tmp_path, "run", "wf.yaml"))
    assert "wf.yaml:3" in line  # the a2a: line
    assert f"cannot connect to the broker mqtt://{host_port(secured.broker)}" in line
    assert "the login of user 'bob' was refused" in line
    assert "(not retryable)" in line
    assert WRONG not in line
