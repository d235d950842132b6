"""Work a request says it does not want or has done, and pasted code, are not embedded.

"A customer wrote to us in German ... I don't need it translated. Just tell me
how urgent it is" names translation, and its embedding went to the translator:
the words of the unwanted work pull as hard as the words of the wanted one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from weft.cli._cards_file import load_cards_file
from weft.protocols import Candidate, CapabilityCard, RouteRequest, RoutingDecision
from weft.runtime.routing.capability_router import CapabilityRouter
from weft.runtime.routing.embeddings import MiniLMEmbedder
from weft.runtime.routing.instruction import split_unwanted, wanted_text, without_code
from weft.runtime.routing.likelihood import LikelihoodChooser, LikelihoodScorer

DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


@pytest.mark.parametrize(
    ("text", "wanted", "unwanted"),
    [
        (
            "I've got 30 tickets. I don't need them sorted or prioritised, I just need each "
            "one in English.",
            "I've got 30 tickets. I just need each one in English.",
            "them sorted or prioritised",
        ),
        (
            "Which emails still need a reply? Don't write the replies, just list them.",
            "Which emails still need a reply? just list them.",
            "write the replies",
        ),
        (
            "The contract has an IP clause. I'm not asking you to change it, I want to "
            "understand it.",
            "The contract has an IP clause. I want to understand it.",
            "change it",
        ),
        (
            "Type out the words on the whiteboard, not a description of the picture.",
            "Type out the words on the whiteboard",
            "a description of the picture",
        ),
        ("Describe it, no need to read the numbers.", "Describe it", "read the numbers"),
        (
            "I already have the playlist for our anniversary \u2014 now write a short poem.",
            "now write a short poem.",
            "I already have the playlist for our anniversary",
        ),
        (
            "The phishing test went fine but now rank our open CVEs.",
            "now rank our open CVEs.",
            "The phishing test went fine",
        ),
        (
            "I need a lighter banana bread, I'll count the calories myself.",
            "I need a lighter banana bread",
            "I'll count the calories myself",
        ),
    ],
)
def test_the_unwanted_work_is_split_off(text: str, wanted: str, unwanted: str) -> None:
    assert split_unwanted(text) == (wanted, unwanted)


@pytest.mark.parametrize(
    "text",
    [
        "I don't understand why the test fails on CI.",  # a problem: the work itself
        "It doesn't compile since the upgrade, fix it.",
        "Don't worry about the style, find the bug.",  # nothing to hold against anyone
        "Is this not the right formula?",
        "Translate the ticket into English.",
        "The tests already fail on CI, fix them.",  # done, but as a problem
        "The build already broke twice today - find out why.",
    ],
)
def test_problems_and_plain_requests_are_kept_whole(text: str) -> None:
    assert split_unwanted(text) == (text, None)
    assert wanted_text(text) == text


@pytest.mark.parametrize(
    ("text", "embedded"),
    [
        (
            "Jest tests for this reducer please:\n```js\nexport function cart() {}\n```",
            "Jest tests for this reducer please:\n (js code)",
        ),
        ("```\nx = 1\n```\nanything wrong with this?", "(source code) \nanything wrong with this?"),
        ("fix this ```python\nprint(1)", "fix this  (python code)"),  # never closed
        ("Use `git rebase` here?", "Use `git rebase` here?"),  # inline code is words
    ],
)
def test_code_blocks_are_named_not_embedded(text: str, embedded: str) -> None:
    assert without_code(text) == embedded


def test_a_negation_inside_pasted_code_is_no_unwanted_work() -> None:
    text = "Review this:\n```python\n# don't need the cache, not the fastest\n```"
    assert wanted_text(text) == "Review this:\n (python code)"


def test_a_request_that_only_says_what_not_to_do_is_kept_whole() -> None:
    assert wanted_text("Don't translate it.") == "Don't translate it."


#: Hard subtasks of the labelled sets (bench/data/fourth_tasks.jsonl, third_tasks.jsonl)
#: that went to the agent of the work they say is not wanted or done, and one of our own.
ROUTED = {
    "fourth_cards.yaml": {
        "A customer wrote to us in German, very angry, about a refund that never arrived. "
        "I don't need it translated. Just tell me how urgent it is and which team should "
        "own it.": "ticket_triage",
        "Our freelance contract has an IP assignment clause. I'm not asking you to change "
        "it, I just want to understand what it means in plain English.": "legal_plain",
        "High-protein vegetarian dinner recipe, around 600 kcal. I'm not after a full meal "
        "plan, just tonight.": "recipe",
        "The NDA has a non-compete clause. I'm not asking you to rewrite it, explain what "
        "it means in plain English.": "legal_plain",
        "Jest tests for this reducer please:\n```js\nexport function cart(state = [], action) "
        "{\n  switch (action.type) {\n    case 'add': return [...state, action.item];\n    "
        "case 'remove': return state.filter(i => i.id !== action.id);\n    default: return "
        "state;\n  }\n}\n```": "test_writer",
    },
    "third_cards.yaml": {
        "I already have the playlist for our anniversary \u2014 now write a short poem to go "
        "on the card": "lyricist",
        "I wrote lyrics for my sister's wedding already \u2014 now I need 10 existing songs "
        "for the first-dance shortlist": "playlist_curator",
        "I need a lower-calorie banana bread that still tastes good \u2014 can you rework the "
        "recipe? I'll count the calories myself.": "bake_lab",
    },
}


@pytest.mark.parametrize("cards", sorted(ROUTED))
async def test_the_router_goes_by_the_wanted_work(minilm: MiniLMEmbedder, cards: str) -> None:
    router = CapabilityRouter.open(minilm, learn=False)
    try:
        router.add_cards(load_cards_file(str(DATA / cards)))
        decisions = await router.route_many(RouteRequest(text=t) for t in ROUTED[cards])
    finally:
        router.close()
    chosen = {d.request.text: d.chosen.agent_id if d.chosen else None for d in decisions}
    assert chosen == ROUTED[cards]


class _RecordingScorer(LikelihoodScorer):
    """Records the subtask text the stage scores; the first card scores highest."""

    def __init__(self) -> None:
        self.scored: list[str] = []

    def score(self, subtask: str, cards: list[CapabilityCard]) -> list[float]:
        self.scored.append(subtask)
        return [-1.0 - i for i in range(len(cards))]


async def test_the_likelihood_stage_scores_the_wanted_work() -> None:
    scorer = _RecordingScorer()
    stage = LikelihoodChooser(scorer=scorer, min_gain=None)
    cards = {
        a: CapabilityCard(agent_id=a, description=f"{a} work") for a in ("triage", "translator")
    }
    text = "A customer wrote in German. I don't need it translated. Just tell me how urgent it is."
    decision = RoutingDecision(
        request=RouteRequest(text=text),
        chosen=cards["triage"],
        candidates=[Candidate(agent_id=a, version="1", score=0.5) for a in cards],
        embedding_model="test",
        latency_s=0.0,
    )
    await stage.refine(decision, cards)
    assert scorer.scored == ["A customer wrote in German. Just tell me how urgent it is."]
