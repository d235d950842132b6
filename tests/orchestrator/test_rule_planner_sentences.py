"""The rule planner reads a task as a person wrote it: a sentence that only goes on with the
one before stays with it, a step that refers back waits for the step it refers to,
numbered steps run in order, abbreviations do not end sentences, and a verbless piece after
"then" borrows the verb of the piece before."""

from __future__ import annotations

import pytest

from weft import tool
from weft.runtime.orchestrator import Orchestrator
from weft.runtime.orchestrator.rule_planner import RulePlanner, split_task
from weft.runtime.routing.lexical_router import LexicalRouter


@pytest.mark.parametrize(
    "task",
    [
        "Weft runs agents. It traces them.",
        "Research heat pumps. They should be cheap.",
        "Research heat pumps. This is for a client.",
        "Research heat pumps. That includes the running costs.",
        "Count the words in this text. The text is: Weft runs agents.",
        "Translate the summary. In French.",
        "Compare Python and Rust. Which is faster?",
        # What not to do limits the step before; as a step of its own an agent would do it.
        "Tell me which team should own this ticket. I don't want it translated.",
        "Write up what was decided. Don't book anything.",
        "Go through the module for naming. No need to add tests.",
    ],
)
def test_a_sentence_that_only_goes_on_with_the_one_before_stays_with_it(task: str) -> None:
    (only,) = split_task(task)
    assert only == ("free", task.rstrip("."))


def test_what_not_to_do_said_first_limits_the_first_step() -> None:
    assert split_task("Don't translate it. Summarise it instead.") == [
        ("free", "Don't translate it. Summarise it instead")
    ]
    assert split_task("Don't translate it.") == [("free", "Don't translate it")]


def test_a_step_of_its_own_after_a_leading_phrase_is_not_a_continuation() -> None:
    assert split_task("Research solar. For each source, note the year.") == [
        ("free", "Research solar"),
        ("free", "For each source, note the year"),
    ]


def test_an_ordering_word_makes_even_a_pronoun_sentence_a_step() -> None:
    assert split_task("Weft runs agents. Then it traces them.") == [
        ("free", "Weft runs agents"),
        ("after_group", "It traces them"),
    ]


@pytest.mark.parametrize(
    ("task", "second"),
    [
        (
            "Research heat pumps; compare them with gas boilers.",
            ("after_group", "Compare them with gas boilers"),
        ),
        ("What is a heat pump? How does it work?", ("after_previous", "How does it work?")),
        ("Collect the sales figures. Chart the results.", ("after_group", "Chart the results")),
    ],
)
def test_a_step_that_refers_back_waits_for_the_step_before(
    task: str, second: tuple[str, str]
) -> None:
    assert split_task(task)[1] == second
    plan = RulePlanner().build(task, 8)
    assert plan.subtasks[1].depends_on == ["s1"]


@pytest.mark.parametrize(
    ("task", "depends_on"),
    [
        ("Research solar. Research wind. Compare them.", ["s1", "s2"]),
        ("Research solar. Research wind. Then compare them.", ["s1", "s2"]),
        ("Research solar. Research wind. Then summarise it.", ["s2"]),
        ("Research solar. Research wind. Chart the results.", ["s1", "s2"]),
        ("Get Paris's weather. Get Rome's weather. Say which of the two is warmer.", ["s1", "s2"]),
        ("Research solar. Research wind. Research tides. Report on all three.", ["s1", "s2", "s3"]),
    ],
)
def test_them_means_every_result_before_it_is_one_only(task: str, depends_on: list[str]) -> None:
    """A person asking to compare "them" after two researches means both."""
    assert RulePlanner().build(task, 8).subtasks[-1].depends_on == depends_on


def test_them_after_a_finally_step_starts_from_that_step() -> None:
    task = (
        "Research solar. Research wind. Finally compare them. Research hydro. Compare them with it."
    )
    plan = RulePlanner().build(task, 8)
    assert plan.subtasks[4].depends_on == ["s3", "s4"]


@pytest.mark.parametrize(
    ("task", "depends_on"),
    [
        ("Research solar. Research wind. Compare the two.", ["s1", "s2"]),
        ("Research solar. Research wind. Which of the two is cheaper?", ["s1", "s2"]),
        ("Research solar. Research wind. Compare the two and pick one.", ["s1", "s2"]),
        ("Research solar. Research wind. Merge the two reports into one.", ["s1", "s2"]),
        ("Research solar. Research wind. Rank the two by cost.", ["s1", "s2"]),
        ("Research solar. Research wind. Research tides. Compare all three.", ["s1", "s2", "s3"]),
        ("Research solar. Research wind. Research tides. Rank all 3 by cost.", ["s1", "s2", "s3"]),
        (
            "Research solar. Research wind. Research tides. Chart the three of them.",
            ["s1", "s2", "s3"],
        ),
        ("Research solar. Research wind. Research tides. Compare these three.", ["s1", "s2", "s3"]),
        (
            "Research solar. Research wind. Research tides. Sum up all three findings.",
            ["s1", "s2", "s3"],
        ),
        (
            "Research solar. Research wind. Research tides. Compare all three technologies.",
            ["s1", "s2", "s3"],
        ),
        ("Research solar. Research wind. Compare the two technologies side by side.", ["s1", "s2"]),
    ],
)
def test_a_number_that_stands_for_the_earlier_results_waits_for_them(
    task: str, depends_on: list[str]
) -> None:
    """In "all three", "the two", "which of the two" the number is the results before."""
    assert RulePlanner().build(task, 8).subtasks[-1].depends_on == depends_on


@pytest.mark.parametrize(
    "task",
    [
        "Research solar. List the three biggest suppliers.",
        "Research solar. Name the two largest producers in Europe.",
        "Research solar. Find the top 3 vendors.",
        "Research solar. Suggest three options for a small roof.",
        "Research solar. List the five cheapest panels on the market.",
        "Research solar. Name the three suppliers with the shortest lead times.",
        "Research solar. Write a two-page brief on heat pumps.",
        "Research solar. Research wind. Name the two largest cities in Spain.",
        "Research solar. Research wind. Research tides. List the three best-known brands.",
        "Research solar. Research wind. Find all 5 suppliers in Ohio.",
    ],
)
def test_a_number_that_counts_something_new_adds_no_dependency(task: str) -> None:
    """The "three biggest suppliers" are a new list, not the research before them."""
    plan = RulePlanner().build(task, 8)
    assert plan.subtasks[-1].depends_on == []
    assert split_task(task)[-1][0] == "free"


def test_independent_sentences_still_run_in_parallel() -> None:
    assert [order for order, _ in split_task("Research tides. Research wind.")] == [
        "free",
        "free",
    ]


@pytest.mark.parametrize(
    ("task", "pieces"),
    [
        ("Research solar then wind power", ["Research solar", "Research wind power"]),
        ("Research solar and then wind power.", ["Research solar", "Research wind power"]),
        ("Research solar. Then wind power.", ["Research solar", "Research wind power"]),
        (
            "Research solar, then wind power, then tides.",
            ["Research solar", "Research wind power", "Research tides"],
        ),
        # a verb the lexicon lacks, known by the object right after it
        (
            "Profile the solar market, then the wind market.",
            ["Profile the solar market", "Profile the wind market"],
        ),
        ("Look up solar then wind power", ["Look up solar", "Look up wind power"]),
        ("- research solar\n- then wind", ["Research solar", "Research wind"]),
    ],
)
def test_a_verbless_piece_after_then_borrows_the_verb_before(task: str, pieces: list[str]) -> None:
    assert [text for _, text in split_task(task)] == pieces


@pytest.mark.parametrize(
    ("task", "pieces"),
    [
        ("Report on solar then wind", ["Report on solar", "Report on wind"]),
        ("Reflect on solar, then wind power.", ["Reflect on solar", "Reflect on wind power"]),
        ("Blog about solar and then wind", ["Blog about solar", "Blog about wind"]),
        ("Sum up solar then wind", ["Sum up solar", "Sum up wind"]),
        (
            "Quantify solar output then wind output",
            ["Quantify solar output", "Quantify wind output"],
        ),
        (
            "Tokenise the English text, then the French text",
            [
                "Tokenise the English text",
                "Tokenise the French text",
            ],
        ),
        ("Dramatise solar. Then wind.", ["Dramatise solar", "Dramatise wind"]),
        # a noun and a preposition after "then" still borrow: no verb of their own
        ("Research solar then wind on the coast", ["Research solar", "Research wind on the coast"]),
        (
            "Research wages, then facts about tariffs",
            [
                "Research wages",
                "Research facts about tariffs",
            ],
        ),
    ],
)
def test_a_verb_the_lexicon_lacks_is_lent_too(task: str, pieces: list[str]) -> None:
    """Verbs absent from the reuse lexicon, known by a particle after them or their ending."""
    from weft.runtime.memory.lexicon import OPERATIONS

    assert not {"report", "reflect", "blog", "sum", "quantify", "tokenise", "dramatise"} & set(
        OPERATIONS
    )
    assert [text for _, text in split_task(task)] == pieces


@pytest.mark.parametrize(
    ("task", "second"),
    [
        ("Research solar then back up the data", "Back up the data"),  # a particle
        ("Report on solar then sum up wind", "Sum up wind"),
        ("Research solar then quantify wind", "Quantify wind"),  # a verb's ending
        ("Enterprise software, then wind power.", "Wind power"),  # a noun, not a verb
        ("Costs for solar, then wind power.", "Wind power"),  # "for" follows nouns too
        ("Research solar, then compare it with wind", "Compare it with wind"),
        ("Research solar then summarise", "Summarise"),  # a known verb
        ("Research solar then graph their costs", "Graph their costs"),  # its object follows
        ("Weft runs agents. Then it traces them.", "It traces them"),  # a clause
        ("Collect the figures, then the results are charted.", "The results are charted"),
        ("The report covers solar, then wind power.", "Wind power"),  # no verb to borrow
    ],
)
def test_a_piece_with_a_verb_of_its_own_or_none_to_borrow_stays_as_it_is(
    task: str, second: str
) -> None:
    # "their costs", "them", "the results" refer back to every result before
    order = (
        "after_group"
        if any(w in second for w in ("their", "them", "results"))
        else "after_previous"
    )
    assert split_task(task)[1] == (order, second)


def test_a_piece_that_borrows_a_verb_keeps_its_order() -> None:
    assert split_task("Research solar panels, and finally wind turbines.") == [
        ("free", "Research solar panels"),
        ("after_all", "Research wind turbines"),
    ]
    plan = RulePlanner().build("Research solar then wind power", 8)
    assert [(s.description, s.depends_on) for s in plan.subtasks] == [
        ("Research solar", []),
        ("Research wind power", ["s1"]),
    ]


def test_numbered_steps_run_in_order_and_bullets_side_by_side() -> None:
    steps = "Brief me on heat pumps:\n1. Research heat pumps\n2. Write a briefing\n3. Review it"
    assert split_task(steps) == [
        ("free", "Research heat pumps"),
        ("after_previous", "Write a briefing"),
        ("after_previous", "Review it"),
    ]
    assert split_task("Step 1: fetch the data\nStep 2: plot the data") == [
        ("free", "Fetch the data"),
        ("after_previous", "Plot the data"),
    ]
    assert split_task("Plan a trip:\n- book flights\n- book a hotel") == [
        ("free", "Book flights"),
        ("free", "Book a hotel"),
    ]


def test_a_list_item_that_starts_with_a_pronoun_stays_with_the_item_before() -> None:
    assert split_task("- research solar power\n- it must be recent\n- research wind") == [
        ("free", "Research solar power. It must be recent"),
        ("free", "Research wind"),
    ]


def test_abbreviations_do_not_end_a_sentence() -> None:
    assert split_task("Write a poem about e.g. cats. Then translate it.") == [
        ("free", "Write a poem about e.g. cats"),
        ("after_previous", "Translate it"),
    ]
    assert split_task("Ask Dr. Smith for the paper. Research wind, solar, etc. Compare them.") == [
        ("free", "Ask Dr. Smith for the paper"),
        ("free", "Research wind, solar, etc"),
        ("after_group", "Compare them"),
    ]


def test_first_next_and_lastly_order_the_steps_and_are_dropped() -> None:
    assert split_task(
        "First, research solar. Next, research wind. Also research tides. Lastly, compare them."
    ) == [
        ("free", "Research solar"),
        ("after_previous", "Research wind"),
        ("free", "Research tides"),
        ("after_all", "Compare them"),
    ]


def test_a_one_sentence_task_and_a_question_are_one_subtask() -> None:
    plan = RulePlanner().build("Write a short briefing on heat pumps and their costs.", 8)
    assert [s.description for s in plan.subtasks] == [
        "Write a short briefing on heat pumps and their costs"
    ]
    assert split_task("What is the capital of France?") == [
        ("free", "What is the capital of France?")
    ]


@tool
def research(topic: str) -> str:
    """Research facts about a topic."""
    return "facts on " + topic.lower()


@tool
def compare(text: str) -> str:
    """Compare findings side by side."""
    return "compared: " + text


async def test_an_ask_whose_second_sentence_says_more_about_the_first_runs() -> None:
    # "They rise twice a day" on its own fits no agent: the ask used to fail with
    # "no agent fits", although the task is one piece of research
    answer = await Orchestrator([research, compare], router=LexicalRouter()).ask(
        "Research tides. They rise twice a day."
    )
    assert answer.ok, answer.error
    assert answer.plan is not None
    assert [s.description for s in answer.plan.subtasks] == [
        "Research tides. They rise twice a day"
    ]
    assert answer.routes == {"s1": "research"}
