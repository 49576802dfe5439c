"""RFM: the ordered group table, its SQL twin, and the quintile score (pure, plus one query per engine)."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.engines import Engine
from c360.segments import rfm

SCORES = range(1, 6)
ALL = list(itertools.product(SCORES, SCORES, SCORES))

#: The issue's table, in order: (name, slug, rule).
TABLE = [
    ("Champions", "champions", "R>=4 F>=4 M>=4"),
    ("Loyal", "loyal", "R>=3 F>=4"),
    ("Can't Lose Them", "cant_lose_them", "R<=2 F>=4 M>=4"),
    ("At Risk", "at_risk", "R<=2 F>=3"),
    ("Potential Loyalist", "potential_loyalist", "R>=4 F in 2-3"),
    ("New", "new", "R=5 F=1"),
    ("Promising", "promising", "R=4 F=1"),
    ("Need Attention", "need_attention", "R=3 F in 2-3"),
    ("About to Sleep", "about_to_sleep", "R=3 F=1"),
    ("Hibernating", "hibernating", "R=2 F<=2"),
    ("Lost", "lost", "R=1 F<=2"),
]


def _rule_holds(rule: str, r: int, f: int, m: int) -> bool:
    """The rule text of the table read independently of the code under test: 'R>=4 F in 2-3' and the like."""
    values = {"R": r, "F": f, "M": m}
    for part in rule.replace(" in ", "_in_").split():
        if "_in_" in part:
            letter, span = part.split("_in_")
            low, high = (int(x) for x in span.split("-"))
            if not low <= values[letter] <= high:
                return False
            continue
        for op, test in (
            (">=", lambda a, b: a >= b),
            ("<=", lambda a, b: a <= b),
            ("=", lambda a, b: a == b),
        ):
            if op in part:
                letter, number = part.split(op)
                if not test(values[letter], int(number)):
                    return False
                break
        else:
            raise AssertionError(f"cannot read {part!r}")
    return True


def test_the_groups_are_the_issues_table_in_order() -> None:
    assert [(g.name, g.slug, g.rule) for g in rfm.GROUPS] == TABLE


@pytest.mark.parametrize(("r", "f", "m"), ALL)
def test_every_combination_has_a_first_match_and_it_is_the_tables(r: int, f: int, m: int) -> None:
    matching = [g.name for g in rfm.GROUPS if g.test(r, f, m)]
    assert matching, f"no group for R={r} F={f} M={m}"
    by_table = next(name for name, _slug, rule in TABLE if _rule_holds(rule, r, f, m))
    assert rfm.group_of(r, f, m) == matching[0] == by_table


def test_each_group_is_someones_first_match() -> None:
    first = {rfm.group_of(r, f, m) for r, f, m in ALL}
    assert first == {name for name, _slug, _rule in TABLE}


def test_each_groups_lambda_and_sql_say_the_same_rule() -> None:
    for group in rfm.GROUPS:
        for r, f, m in ALL:
            assert group.test(r, f, m) == _rule_holds(group.rule, r, f, m), (group.name, r, f, m)


def test_a_score_outside_1_to_5_has_no_group() -> None:
    with pytest.raises(ValueError, match="no RFM group"):
        rfm.group_of(0, 0, 0)


def test_the_case_agrees_with_group_of_for_all_125_on_the_engine(engine: Engine) -> None:
    combos = pa.table({"r": [c[0] for c in ALL], "f": [c[1] for c in ALL], "m": [c[2] for c in ALL]})
    engine.register_arrow("rfm_combos", combos)
    rows = engine.sql(f"SELECT r, f, m, {rfm.group_case_sql()} AS grp FROM rfm_combos").to_pylist()
    assert len(rows) == 125
    assert {(row["r"], row["f"], row["m"]): row["grp"] for row in rows} == {c: rfm.group_of(*c) for c in ALL}
    # unscored (no order in the window): no group
    engine.register_arrow("rfm_none", pa.table({"r": pa.array([None], pa.int64()), "f": [1], "m": [1]}))
    assert engine.sql(f"SELECT {rfm.group_case_sql()} AS grp FROM rfm_none").to_pylist() == [{"grp": None}]


# --- the quintile score ----------------------------------------------------------------------------------------


def test_one_scored_profile_scores_1() -> None:
    assert rfm.score(1, 1) == 1


def test_scores_of_small_counts() -> None:
    assert [rfm.score(rank, 2) for rank in (1, 2)] == [1, 5]
    assert [rfm.score(rank, 5) for rank in range(1, 6)] == [1, 2, 3, 4, 5]
    assert [rfm.score(rank, 6) for rank in range(1, 7)] == [1, 2, 3, 4, 5, 5]
    assert [rfm.score(rank, 11) for rank in range(1, 12)] == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 5]


@given(st.integers(min_value=1, max_value=100_000), st.data())
def test_scores_are_1_to_5_monotone_and_span_the_range(count: int, data: st.DataObject) -> None:
    rank = data.draw(st.integers(min_value=1, max_value=count))
    score = rfm.score(rank, count)
    assert 1 <= score <= 5
    assert rfm.score(1, count) == 1
    assert rfm.score(count, count) == (5 if count > 1 else 1)
    if rank < count:
        assert rfm.score(rank + 1, count) >= score


@given(st.integers(min_value=5, max_value=5_000))
def test_every_score_is_used_from_five_profiles_on(count: int) -> None:
    assert {rfm.score(rank, count) for rank in range(1, count + 1)} == set(SCORES)


def _ranks(values: list[int]) -> list[int]:
    """SQL's rank(): 1 + how many are strictly smaller (worst first)."""
    return [1 + sum(other < value for other in values) for value in values]


@given(st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=40))
def test_equal_values_get_equal_scores_and_more_never_scores_less(values: list[int]) -> None:
    scores = [rfm.score(rank, len(values)) for rank in _ranks(values)]
    for (a, score_a), (b, score_b) in itertools.product(zip(values, scores, strict=True), repeat=2):
        if a == b:
            assert score_a == score_b
        if a < b:
            assert score_a <= score_b


def test_the_docs_table_is_the_groups_in_order() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "segments.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if any(line.startswith(f"| {g.name} |") for g in rfm.GROUPS)]
    assert rows == [f"| {g.name} | {g.rule} |" for g in rfm.GROUPS]
    for group in rfm.GROUPS:
        assert f"`{rfm.SEGMENT_PREFIX}{group.slug}`" in doc
