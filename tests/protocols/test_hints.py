"""The "did you mean" hint: one wording, quoted, wherever weft names a misspelt name."""

from __future__ import annotations

from pathlib import Path

import pytest

import weft
from weft.protocols import DefinitionError
from weft.protocols.hints import close_names, did_you_mean, meant
from weft.runtime.engine.action_table import ActionTable
from weft.runtime.support.user_code import close_attributes


def test_a_close_name_is_quoted_in_parentheses() -> None:
    assert did_you_mean("uper", ["upper", "lower"]) == " (did you mean 'upper'?)"


def test_no_close_name_gives_no_hint() -> None:
    assert did_you_mean("zebra", ["upper", "lower"]) == ""
    assert did_you_mean("zebra", []) == ""


def test_several_close_names_read_as_a_list_closest_first() -> None:
    assert meant(["a"]) == "did you mean 'a'?"
    assert meant(["a", "b"]) == "did you mean 'a' or 'b'?"
    assert meant(["a", "b", "c"]) == "did you mean 'a', 'b' or 'c'?"
    assert meant([]) == ""


def test_n_bounds_the_names_offered() -> None:
    names = ["count_a", "count_b", "count_c"]
    assert did_you_mean("count_", names, n=1).count("'") == 2
    assert did_you_mean("count_", names).count("'") == 6


def test_a_short_name_one_typo_away_is_found() -> None:
    # difflib's ratio alone misses these: 'ab' against 'aa' is 0.5
    assert close_names("aa", ["ab", "zz"]) == ["ab"]
    assert did_you_mean("fo", ["foo", "bar"]) == " (did you mean 'foo'?)"


def test_candidates_may_be_a_set_or_mapping_and_their_order_does_not_matter() -> None:
    one = did_you_mean("tot", {"total": 1, "tote": 2, "top": 3})
    assert one == did_you_mean("tot", {"top", "tote", "total"})
    assert one == did_you_mean("tot", ["total", "top", "tote"])


def test_then_is_said_in_the_same_parenthesis_with_or_without_a_match() -> None:
    assert did_you_mean("totl", ["total"], then="known: total") == (
        " (did you mean 'total'? known: total)"
    )
    assert did_you_mean("zebra", ["total"], then="known: total") == " (known: total)"


def test_an_unknown_action_and_a_missing_attribute_are_hinted_alike() -> None:
    table = ActionTable()

    @weft.tool
    def upper(text: str) -> str:
        """Upper-case."""
        return text.upper()

    table.register(upper)
    with pytest.raises(DefinitionError) as caught:
        table.get("uper")
    assert "unknown action 'uper' (did you mean 'upper'?)" in str(caught.value)

    class Tools:
        upper = staticmethod(str.upper)

    assert close_attributes(Tools, "uper") == " (did you mean 'upper'?)"


def test_no_module_words_its_own_hint() -> None:
    """Close names are found in ``weft.protocols.hints`` only (``teams/names.py`` orders
    every known name for its listing, which is no hint)."""
    root = Path(weft.__file__).parent
    allowed = {root / "protocols" / "hints.py", root / "runtime" / "teams" / "names.py"}
    own = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path not in allowed and "get_close_matches" in path.read_text(encoding="utf-8")
    ]
    assert own == []
