"""``weft broker``: a local Mosquitto with weft's config, its config, ACL and users."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from weft.cli import cli
from weft.runtime.bus.mqtt.broker import port_is_free
from weft.runtime.bus.mqtt.broker_auth import read_password_file, verify_password
from weft.runtime.bus.mqtt.mqtt_bus import MqttBus

#: The longest a `weft broker` process may take to start or stop: its Python start and
#: imports alone took 3.4 s on a loaded two-core machine. Waits end when it answers.
WAIT = 30.0


def weft(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_config_only_prints_weft_config() -> None:
    code, out, _ = weft("broker", "--port", "18830", "--config-only")
    assert code == 0
    lines = out.splitlines()
    assert {"listener 18830 127.0.0.1", "set_tcp_nodelay true", "allow_anonymous true"} <= set(
        lines
    )


def test_config_only_with_a_password_file_turns_anonymous_access_off(tmp_path: Path) -> None:
    passwd, acl = tmp_path / "passwd", tmp_path / "acl"
    passwd.write_text("")
    acl.write_text("")
    code, out, _ = weft(
        "broker", "--config-only", "--password-file", str(passwd), "--acl-file", str(acl)
    )
    assert code == 0
    lines = out.splitlines()
    assert "allow_anonymous false" in lines
    assert f"password_file {passwd.resolve()}" in lines and f"acl_file {acl.resolve()}" in lines


def test_print_acl_renders_the_template_for_the_given_users() -> None:
    code, out, _ = weft("broker", "--print-acl", "--namespace", "prod", "--caller", "cli")
    assert code == 0
    assert "pattern write weft/prod/cards/%u" in out.splitlines()
    assert "user orchestrator\ntopic readwrite weft/prod/#" in out
    assert "user cli\ntopic write weft/prod/agents/+/call" in out


def test_add_user_asks_for_the_password_and_stores_its_hash(tmp_path: Path) -> None:
    passwd = tmp_path / "passwd"
    code, out, _ = weft(
        "broker", "--add-user", "alice", "--password-file", str(passwd), input="pw1\npw1\n"
    )
    assert code == 0, out
    assert verify_password("pw1", read_password_file(passwd)["alice"])
    assert "pw1" not in out


def test_add_user_rejects_a_name_that_is_no_topic_level(tmp_path: Path) -> None:
    code, _, err = weft("broker", "--add-user", "a/b", "--password-file", str(tmp_path / "p"))
    assert code == 2 and "must be non-empty" in err


def test_missing_mosquitto_explains_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("WEFT_MOSQUITTO", raising=False)
    monkeypatch.setattr("weft.runtime.bus.mqtt.broker._SEARCH_PATHS", ())
    code, out, err = weft("broker", "--port", "0")
    assert code == 2
    assert "apt-get install mosquitto" in err and "brew install mosquitto" in err
    assert "Traceback" not in out + err


def test_a_port_in_use_is_reported_with_a_way_out() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = weft("broker", "--port", str(port))
    assert code == 2 and "already in use" in err and "--port 0" in err


@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
async def test_runs_in_the_foreground_until_stopped(stop_signal: signal.Signals) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "weft",
        "broker",
        "--port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # A shell may start children with SIGINT ignored; Ctrl-C must work.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        first = (await asyncio.wait_for(process.stdout.readline(), WAIT)).decode()
        url = first.split(" on ", 1)[1].strip()
        assert url.startswith("mqtt://127.0.0.1:")
        async with MqttBus(url) as bus:
            assert bus.connected and bus.tcp_nodelay
        process.send_signal(stop_signal)
        out, err = await asyncio.wait_for(process.communicate(), WAIT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, err.decode()
    assert "stopped" in out.decode() and b"Traceback" not in err
    port = int(url.rsplit(":", 1)[1])
    assert port_is_free("127.0.0.1", port), "the Mosquitto child must be gone"
