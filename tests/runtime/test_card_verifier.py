"""Many card signatures at once: the on-disk cache of verified payloads, and forked workers.

The cache may only ever save work: a payload that did not verify is never in
it, a card changed by one byte is checked again, and a file someone else
could have written is not believed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from weft.protocols import ActionSpec, AgentCard, Topics
from weft.runtime.remote import card_verifier
from weft.runtime.remote.card_signing import AgentKey, sign_card_data, verify_card_data
from weft.runtime.remote.card_verifier import AheadVerifier, SignatureCache, verify_payloads


def signed(agent_id: str, key: AgentKey, description: str = "d") -> bytes:
    card = AgentCard(
        agent_id=agent_id,
        actions=[ActionSpec(name="act", description=description)],
        topic=Topics("t").agent_call(agent_id),
    )
    data: dict[str, Any] = json.loads(card.model_dump_json(exclude={"public_key", "signature"}))
    return json.dumps(sign_card_data(data, key)).encode()


def tampered(payload: bytes) -> bytes:
    data = json.loads(payload)
    data["actions"][0]["description"] = "altered after signing"
    return json.dumps(data).encode()


def test_a_saved_payload_is_known_to_the_next_process_and_a_changed_one_is_not(
    tmp_path: Path,
) -> None:
    key = AgentKey.generate()
    good, other = signed("a", key), signed("b", key)
    path = tmp_path / "cache" / "verified-cards"
    cache = SignatureCache(path)
    assert not cache.verified(good)
    cache.add(good)
    cache.save()
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700

    again = SignatureCache(path)
    assert again.verified(good)
    assert not again.verified(other)
    assert not again.verified(tampered(good))
    assert not again.verified(good + b" ")


def test_saves_from_two_caches_keep_each_others_entries(tmp_path: Path) -> None:
    key = AgentKey.generate()
    first, second = SignatureCache(tmp_path / "c"), SignatureCache(tmp_path / "c")
    a, b = signed("a", key), signed("b", key)
    first.verified(a)  # both loaded the (empty) file before either saved
    second.verified(b)
    first.add(a)
    first.save()
    second.add(b)
    second.save()
    merged = SignatureCache(tmp_path / "c")
    assert merged.verified(a) and merged.verified(b)


def test_a_cache_file_others_may_write_or_a_damaged_one_is_not_believed(tmp_path: Path) -> None:
    key = AgentKey.generate()
    good = signed("a", key)
    path = tmp_path / "verified-cards"
    cache = SignatureCache(path)
    cache.add(good)
    cache.save()
    os.chmod(path, 0o666)
    assert not SignatureCache(path).verified(good)
    os.chmod(path, 0o600)
    path.write_bytes(path.read_bytes()[:-1])  # not a whole number of digests
    assert not SignatureCache(path).verified(good)
    path.write_bytes(b"some other file\n")
    assert not SignatureCache(path).verified(good)


def test_an_unwritable_cache_folder_costs_only_time(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    cache = SignatureCache(blocker / "verified-cards")
    cache.add(signed("a", AgentKey.generate()))
    cache.save()  # logs, does not raise
    assert not (blocker / "verified-cards").exists()


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_forked_workers_give_the_same_verdicts_in_the_same_order(
    workers: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(card_verifier, "PARALLEL_ABOVE", 5)
    key, stranger = AgentKey.generate(), AgentKey.generate()
    payloads = []
    for i in range(30):
        payload = signed(f"a{i}", key if i % 3 else stranger)
        payloads.append(tampered(payload) if i % 7 == 0 else payload)
    payloads.append(b'{"agent_id": "u"}')  # unsigned
    expected = [verify_card_data(json.loads(p)) for p in payloads]
    assert verify_payloads(payloads, workers=workers) == expected
    signers = [s.signer for s in expected]
    assert signers.count(None) == 5 + 1  # the tampered ones and the unsigned one
    assert {s for s in signers if s} == {key.public_key, stranger.public_key}


def test_checking_ahead_as_cards_arrive_gives_the_verdicts_of_checking_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Batches sent while cards arrive, batches taken back, and cards never added all agree."""
    monkeypatch.setattr(card_verifier, "PARALLEL_ABOVE", 5)
    key, stranger = AgentKey.generate(), AgentKey.generate()
    payloads = [signed(f"a{i}", key if i % 4 else stranger) for i in range(40)]
    payloads[5] = tampered(payloads[5])
    payloads[22] = tampered(payloads[22])
    expected = [verify_card_data(json.loads(p)) for p in payloads]
    with AheadVerifier(workers=1, batch=4) as verifier:
        for payload in payloads[:30]:  # seven batches sent, two cards waiting
            verifier.add(payload)
        assert verifier.finish(payloads) == expected
        assert verifier.finish(payloads[::-1]) == expected[::-1]  # again, nothing under way
    assert [s.signer for s in expected].count(None) == 2


def test_a_worker_that_fails_leaves_its_cards_to_be_checked_here(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Whatever goes wrong in a worker, no card is taken as verified without a check."""
    original = card_verifier._verify_chunk

    def not_sendable(payloads: list[bytes]) -> list[tuple[str | None, str | None]]:
        return original(payloads)  # in this process; a worker cannot be sent it (pickling)

    monkeypatch.setattr(card_verifier, "_verify_chunk", not_sendable)
    key = AgentKey.generate()
    payloads = [signed(f"a{i}", key) for i in range(12)]
    payloads[3] = tampered(payloads[3])
    expected = [verify_card_data(json.loads(p)) for p in payloads]
    with AheadVerifier(workers=1, batch=4) as verifier:
        for payload in payloads:
            verifier.add(payload)
        assert verifier.finish(payloads) == expected
    assert "a card signature worker failed" in caplog.text
    assert expected[3].signer is None and all(s.signer for i, s in enumerate(expected) if i != 3)
