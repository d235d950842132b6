"""Password files and the ACL template, without a broker."""

from __future__ import annotations

import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from weft.protocols import BusError
from weft.runtime.bus.mqtt.broker_auth import (
    acl_template,
    hash_password,
    read_password_file,
    render_acl,
    verify_password,
    write_password_file,
)


def test_a_hash_verifies_only_its_password() -> None:
    encoded = hash_password("s3cret")
    assert encoded.startswith("$7$10000$")
    assert verify_password("s3cret", encoded)
    assert not verify_password("S3cret", encoded)


def test_the_same_password_hashes_differently_each_time() -> None:
    assert hash_password("same") != hash_password("same")


def test_hashes_match_what_mosquitto_passwd_writes(tmp_path: Path) -> None:
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        pytest.fail("mosquitto_passwd is not installed: apt-get install mosquitto")
    path = tmp_path / "passwd"
    subprocess.run([tool, "-b", "-c", str(path), "agent", "from-the-tool"], check=True)
    assert verify_password("from-the-tool", read_password_file(path)["agent"])


def test_password_file_is_private_and_keeps_other_users(tmp_path: Path) -> None:
    path = write_password_file(tmp_path / "passwd", {"alice": "a1", "bob": "b1"})
    write_password_file(path, {"alice": "a2"})
    users = read_password_file(path)
    assert verify_password("a2", users["alice"]) and verify_password("b1", users["bob"])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_replace_drops_users_not_given(tmp_path: Path) -> None:
    path = write_password_file(tmp_path / "passwd", {"alice": "a", "bob": "b"})
    write_password_file(path, {"carol": "c"}, replace=True)
    assert list(read_password_file(path)) == ["carol"]


@pytest.mark.parametrize("name", ["", "a/b", "a+", "#", "with space", "a:b"])
def test_user_names_must_be_valid_topic_levels(tmp_path: Path, name: str) -> None:
    with pytest.raises(BusError, match="must be non-empty"):
        write_password_file(tmp_path / "passwd", {name: "x"})


def test_template_ships_with_the_package() -> None:
    template = acl_template()
    assert "pattern write weft/{namespace}/cards/%u" in template
    assert "{users}" in template


def test_acl_confines_agents_to_their_own_topics() -> None:
    lines = render_acl().splitlines()
    assert "pattern write weft/+/cards/%u" in lines
    assert "pattern read weft/+/agents/%u/call" in lines
    assert "pattern read weft/+/pools/%u/call" in lines
    assert "pattern read weft/+/replies/%c" in lines
    assert not any(line.startswith("pattern") and "agents/+/call" in line for line in lines)


def test_acl_gives_orchestrators_and_callers_their_blocks() -> None:
    text = render_acl("prod", orchestrators=["boss"], callers=["cli"])
    assert "user boss\ntopic readwrite weft/prod/#\n" in text
    assert "user cli\ntopic write weft/prod/agents/+/call\n" in text
    assert "weft/+/" not in text


def test_acl_namespace_must_be_one_level() -> None:
    with pytest.raises(BusError, match="namespace"):
        render_acl("a/b")
