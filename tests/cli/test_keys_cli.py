"""``weft keys`` and the key and trust options of ``weft agent serve`` and ``weft agents``.

Only what happens before a broker is needed: bad keys and trust lists are one
line and exit 2 before anything connects.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner, Result

from weft.cli import cli
from weft.runtime.remote.card_signing import AgentKey


def weft(tmp_path: Path, *argv: str) -> Result:
    return CliRunner().invoke(cli, list(argv), env={"WEFT_HOME": str(tmp_path), "WEFT_TRUST": ""})


def test_keys_init_creates_the_default_key_and_prints_its_public_key(tmp_path: Path) -> None:
    result = weft(tmp_path, "keys", "init")
    assert result.exit_code == 0, result.output
    key = AgentKey.load(tmp_path / "keys" / "agent.key")
    assert result.stdout.strip() == key.public_key


def test_keys_init_keeps_an_existing_key(tmp_path: Path) -> None:
    first = weft(tmp_path, "keys", "init").stdout
    again = weft(tmp_path, "keys", "init")
    assert again.exit_code == 0 and again.stdout == first
    assert "exists already" in again.stderr


def test_keys_show_prints_the_public_key_and_how_to_trust_it(tmp_path: Path) -> None:
    key_file = tmp_path / "elsewhere.key"
    key = AgentKey.generate()
    key.save(key_file)
    result = weft(tmp_path, "keys", "show", "--key", str(key_file))
    assert result.exit_code == 0
    assert result.stdout.strip() == key.public_key
    assert f'keys: ["{key.public_key}"]' in result.stderr
    # The entry goes in the caller's machine's trust list, not in this machine's.
    assert "in the trust list of that machine" in result.stderr


def test_keys_show_without_a_key_is_one_line_exit_2(tmp_path: Path) -> None:
    result = weft(tmp_path, "keys", "show")
    assert result.exit_code == 2
    assert "no key at" in result.stderr and "weft keys init" in result.stderr
    assert "Traceback" not in result.output


def test_keys_show_of_a_missing_key_file_says_how_to_create_that_file(tmp_path: Path) -> None:
    """docs/security.md shows `weft keys show --key other.key`: the hint must make other.key,
    not the default key (which a bare `weft keys init` would create, leaving the error)."""
    result = weft(tmp_path, "keys", "show", "--key", "other.key")
    assert result.exit_code == 2
    assert "create it with 'weft keys init --key other.key'" in result.stderr
    assert "'weft agent serve --key other.key' creates it" in result.stderr


def test_agent_serve_with_a_file_that_is_not_a_key_exits_2_naming_it(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("not a key")
    result = weft(tmp_path, "agent", "serve", "os:getcwd", "--key", str(bad))
    assert result.exit_code == 2
    assert f"key file {bad}: not an unencrypted PEM private key" in result.stderr
    assert "Traceback" not in result.output


def test_agents_with_a_bad_trust_list_exits_2_before_connecting(tmp_path: Path) -> None:
    trust = tmp_path / "trust.yaml"
    trust.write_text("allow:\n  - keys: [nope]\n")
    # Port 9 (discard): nothing answers there; the trust list is refused first.
    result = weft(tmp_path, "agents", "--broker", "mqtt://127.0.0.1:9", "--trust", str(trust))
    assert result.exit_code == 2
    assert f"trust list {trust}: allow.0.keys" in result.stderr
