"""Tiers as a pure function of qualifying spend history and time (the example: Silver 5M, Gold 15M, Diamond 40M
VND over a rolling 12 months, 3 months' grace before a downgrade)."""

from __future__ import annotations

import copy
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import yaml
from hypothesis import given
from hypothesis import strategies as st

import c360.loyalty
from c360.loyalty.program import Program, load_program, parse_program
from c360.loyalty.tiers import (
    SpendChange,
    TierChange,
    TierState,
    order_spend,
    qualifying_spend,
    refund_spend,
    tier_history,
    tier_state,
)

EXAMPLE = Path(c360.loyalty.__file__).parent / "example.yaml"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
PROGRAM = load_program(EXAMPLE)


def utc(year: int, month: int, day: int, hour: int = 5, minute: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=dt.UTC)


def example_with(**tiers: Any) -> Program:
    data = copy.deepcopy(yaml.safe_load(EXAMPLE.read_text(encoding="utf-8")))
    data["tiers"].update(tiers)
    return parse_program(data)


def tiers_of(history: list[TierChange]) -> list[tuple[dt.datetime, str, str | None]]:
    return [(c.at, c.tier, c.previous) for c in history]


def spend(at: dt.datetime, amount: int, program: Program = PROGRAM) -> SpendChange:
    return order_spend(program, at, amount, ZONE)


def test_an_order_counts_for_twelve_local_months() -> None:
    assert spend(utc(2025, 1, 10), 3_000_000) == SpendChange(utc(2025, 1, 10), utc(2026, 1, 10), 3_000_000)
    # 31 March 23:00 local counts until 31 March 23:00 local a year later.
    assert spend(utc(2025, 3, 31, 16), 1) == SpendChange(utc(2025, 3, 31, 16), utc(2026, 3, 31, 16), 1)


def test_the_member_moves_up_as_soon_as_the_rolling_spend_reaches_a_tier() -> None:
    changes = [spend(utc(2025, 1, 10), 3_000_000), spend(utc(2025, 2, 10), 2_000_000)]
    assert tier_history(PROGRAM, changes, utc(2025, 2, 10, 4, 59), ZONE) == []
    assert tier_history(PROGRAM, changes, utc(2025, 2, 10), ZONE) == [
        TierChange(utc(2025, 2, 10), "Silver", "Member", "12-month spend 5,000,000 VND reached Silver (5,000,000 VND)")
    ]


def test_one_dong_short_is_not_enough() -> None:
    changes = [spend(utc(2025, 1, 10), 3_000_000), spend(utc(2025, 2, 10), 1_999_999)]
    assert tier_history(PROGRAM, changes, utc(2025, 12, 31), ZONE) == []


def test_a_big_order_skips_tiers() -> None:
    history = tier_history(PROGRAM, [spend(utc(2025, 1, 10), 40_000_000)], utc(2025, 6, 1), ZONE)
    assert history == [
        TierChange(
            utc(2025, 1, 10), "Diamond", "Member", "12-month spend 40,000,000 VND reached Diamond (40,000,000 VND)"
        )
    ]


def test_spend_that_leaves_the_window_downgrades_only_after_the_grace() -> None:
    changes = [spend(utc(2025, 1, 10), 5_000_000)]
    upgrade = (utc(2025, 1, 10), "Silver", "Member")
    # The order leaves the window on 10 January 2026; the grace runs until 10 April 2026.
    assert tiers_of(tier_history(PROGRAM, changes, utc(2026, 1, 10), ZONE)) == [upgrade]
    assert tiers_of(tier_history(PROGRAM, changes, utc(2026, 4, 10, 4, 59), ZONE)) == [upgrade]
    history = tier_history(PROGRAM, changes, utc(2026, 4, 10), ZONE)
    assert tiers_of(history) == [upgrade, (utc(2026, 4, 10), "Member", "Silver")]
    assert history[-1].reason == "12-month spend 0 VND stayed below Silver's 5,000,000 VND for 3 months"


def test_a_downgrade_lands_on_the_tier_the_spend_then_qualifies_for() -> None:
    changes = [
        spend(utc(2025, 1, 10), 10_000_000),
        spend(utc(2025, 2, 10), 6_000_000),
        spend(utc(2025, 8, 1), 4_000_000),
    ]
    # Gold from 10 February 2025 (16M); 10 January 2026 the first order leaves: 10M (Silver level).
    # 10 February 2026 the second leaves too: 4M. The grace that began on 10 January ends on 10 April 2026.
    history = tier_history(PROGRAM, changes, utc(2026, 12, 31), ZONE)
    assert tiers_of(history)[:3] == [
        (utc(2025, 1, 10), "Silver", "Member"),
        (utc(2025, 2, 10), "Gold", "Silver"),
        (utc(2026, 4, 10), "Member", "Gold"),
    ]
    assert history[2].reason == "12-month spend 4,000,000 VND stayed below Gold's 15,000,000 VND for 3 months"


def test_recovery_within_the_grace_cancels_the_downgrade() -> None:
    changes = [spend(utc(2025, 1, 10), 5_000_000), spend(utc(2026, 3, 1), 5_000_000)]
    history = tier_history(PROGRAM, changes, utc(2027, 2, 28), ZONE)
    assert tiers_of(history) == [(utc(2025, 1, 10), "Silver", "Member")]
    # The second order leaves on 1 March 2027: a new grace, which ends on 1 June 2027.
    later = tier_history(PROGRAM, changes, utc(2027, 6, 1), ZONE)
    assert tiers_of(later) == [(utc(2025, 1, 10), "Silver", "Member"), (utc(2027, 6, 1), "Member", "Silver")]


def test_recovery_exactly_at_the_end_of_the_grace_keeps_the_tier() -> None:
    changes = [spend(utc(2025, 1, 10), 5_000_000), spend(utc(2026, 4, 10), 5_000_000)]
    assert tiers_of(tier_history(PROGRAM, changes, utc(2026, 12, 31), ZONE)) == [(utc(2025, 1, 10), "Silver", "Member")]


def test_without_grace_the_member_drops_at_once() -> None:
    program = example_with(downgrade_grace_months=0)
    changes = [spend(utc(2025, 1, 10), 5_000_000, program)]
    history = tier_history(program, changes, utc(2026, 1, 10), ZONE)
    assert tiers_of(history) == [(utc(2025, 1, 10), "Silver", "Member"), (utc(2026, 1, 10), "Member", "Silver")]
    assert history[-1].reason == "12-month spend 0 VND fell below Silver's 5,000,000 VND"


# --- refunds ---------------------------------------------------------------------------------------------------
def test_a_refund_reduces_the_spend_from_its_time_until_the_order_leaves_the_window() -> None:
    order_at = utc(2025, 1, 10)
    refund = refund_spend(PROGRAM, order_at, utc(2025, 3, 1), 2_000_000, ZONE)
    assert refund == SpendChange(utc(2025, 3, 1), utc(2026, 1, 10), -2_000_000)
    changes = [spend(order_at, 6_000_000), refund]
    assert qualifying_spend(changes, utc(2025, 2, 28)) == 6_000_000
    assert qualifying_spend(changes, utc(2025, 3, 1)) == 4_000_000
    assert qualifying_spend(changes, utc(2026, 1, 10)) == 0


def test_a_refund_does_not_rewrite_the_past_and_starts_the_grace() -> None:
    order_at = utc(2025, 1, 10)
    refund = refund_spend(PROGRAM, order_at, utc(2025, 3, 1), 2_000_000, ZONE)
    assert refund is not None
    changes = [spend(order_at, 6_000_000), refund]
    silver = (order_at, "Silver", "Member")
    assert tiers_of(tier_history(PROGRAM, changes, utc(2025, 6, 1, 4, 59), ZONE)) == [silver]
    history = tier_history(PROGRAM, changes, utc(2025, 6, 1), ZONE)
    assert tiers_of(history) == [silver, (utc(2025, 6, 1), "Member", "Silver")]
    assert history[-1].reason == "12-month spend 4,000,000 VND stayed below Silver's 5,000,000 VND for 3 months"


def test_a_refund_after_the_order_left_the_window_changes_nothing() -> None:
    assert refund_spend(PROGRAM, utc(2024, 1, 10), utc(2025, 1, 10), 1_000_000, ZONE) is None
    assert refund_spend(PROGRAM, utc(2024, 1, 10), utc(2025, 2, 1), 1_000_000, ZONE) is None
    assert refund_spend(PROGRAM, utc(2025, 1, 10), utc(2025, 2, 1), 0, ZONE) is None
    # A refund dated before its order counts from the order.
    assert refund_spend(PROGRAM, utc(2025, 1, 10), utc(2025, 1, 1), 5, ZONE) == SpendChange(
        utc(2025, 1, 10), utc(2026, 1, 10), -5
    )


# --- tier_state ------------------------------------------------------------------------------------------------
def test_state_of_a_member_on_the_way_to_silver() -> None:
    changes = [spend(utc(2025, 1, 10), 3_000_000)]
    assert tier_state(PROGRAM, changes, utc(2025, 6, 1), ZONE) == TierState(
        tier="Member", since=None, spend=3_000_000, next_tier="Silver", to_next=2_000_000, grace_ends=None
    )


def test_state_of_a_diamond_member_has_no_next_tier() -> None:
    changes = [spend(utc(2025, 1, 10), 50_000_000)]
    assert tier_state(PROGRAM, changes, utc(2025, 6, 1), ZONE) == TierState(
        "Diamond", utc(2025, 1, 10), 50_000_000, None, None, None
    )


def test_state_during_the_grace_shows_when_it_ends() -> None:
    order_at = utc(2025, 1, 10)
    refund = refund_spend(PROGRAM, order_at, utc(2025, 3, 1), 2_000_000, ZONE)
    assert refund is not None
    changes = [spend(order_at, 6_000_000), refund]
    assert tier_state(PROGRAM, changes, utc(2025, 4, 1), ZONE) == TierState(
        "Silver", order_at, 4_000_000, "Gold", 11_000_000, utc(2025, 6, 1)
    )
    assert tier_state(PROGRAM, changes, utc(2025, 6, 1), ZONE) == TierState(
        "Member", utc(2025, 6, 1), 4_000_000, "Silver", 1_000_000, None
    )
    recovered = [*changes, spend(utc(2025, 5, 1), 1_000_000)]
    assert tier_state(PROGRAM, recovered, utc(2025, 5, 2), ZONE) == TierState(
        "Silver", order_at, 5_000_000, "Gold", 10_000_000, None
    )


def test_state_beyond_the_top_spend_needs_nothing_more() -> None:
    changes = [spend(utc(2025, 1, 10), 20_000_000)]
    state = tier_state(PROGRAM, changes, utc(2025, 2, 1), ZONE)
    assert (state.tier, state.next_tier, state.to_next) == ("Gold", "Diamond", 20_000_000)


# --- property: the tier is a pure function of history and time -------------------------------------------------
# A small program so that a short horizon sees upgrades, graces, recoveries and downgrades.
THRESHOLDS = [0, 100, 250, 500]
NAMES = ["Member", "Silver", "Gold", "Diamond"]
ORIGIN = dt.date(2025, 1, 1)
HORIZON = 200  # days


def small_program(window: int, grace: int) -> Program:
    return parse_program(
        {
            "versions": [{"effective_from": "2024-01-01"}],
            "tiers": {
                "window_months": window,
                "downgrade_grace_months": grace,
                "levels": [{"name": n, "min_spend": m} for n, m in zip(NAMES, THRESHOLDS, strict=True)],
            },
        }
    )


def months_later(day: dt.date, months: int) -> dt.date:
    """Written apart from calendar.add_months: step to the target month, then back off to a day that exists."""
    year, month = day.year + (day.month - 1 + months) // 12, (day.month - 1 + months) % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=ZONE).astimezone(dt.UTC)


def brute_force_tiers(
    orders: list[tuple[int, int]], refunds: list[tuple[int, int, int]], window: int, grace: int
) -> list[str]:
    """The tier on each day of the horizon, simulated one local day at a time."""
    spans: list[tuple[dt.date, dt.date, int]] = []
    for day, amount in orders:
        starts = ORIGIN + dt.timedelta(days=day)
        spans.append((starts, months_later(starts, window), amount))
    for index, day, amount in refunds:
        order_day, amount_of_order = orders[index]
        order_starts = ORIGIN + dt.timedelta(days=order_day)
        starts = max(ORIGIN + dt.timedelta(days=day), order_starts)
        spans.append((starts, months_later(order_starts, window), -min(amount, amount_of_order)))

    def qualified(spend: int) -> int:
        return max(i for i, m in enumerate(THRESHOLDS) if spend >= m or i == 0)  # refunds may overshoot

    tiers: list[str] = []
    current, grace_ends = 0, None
    for offset in range(HORIZON):
        today = ORIGIN + dt.timedelta(days=offset)
        target = qualified(sum(a for s, e, a in spans if s <= today < e))
        if target > current:
            current, grace_ends = target, None
        elif target == current:
            grace_ends = None
        elif grace_ends is None:
            grace_ends = months_later(today, grace)
        if grace_ends is not None and grace_ends <= today:
            current, grace_ends = target, None
        tiers.append(NAMES[current])
    return tiers


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[tuple[int, int]], list[tuple[int, int, int]]]:
    orders = draw(st.lists(st.tuples(st.integers(0, HORIZON - 1), st.integers(1, 400)), max_size=6))
    refunds: list[tuple[int, int, int]] = []
    if orders:
        refunds = draw(
            st.lists(
                st.tuples(st.integers(0, len(orders) - 1), st.integers(0, HORIZON - 1), st.integers(1, 400)),
                max_size=3,
            )
        )
    return orders, refunds


@given(histories(), st.integers(1, 3), st.integers(0, 2))
def test_the_tier_matches_a_day_by_day_simulation(
    history: tuple[list[tuple[int, int]], list[tuple[int, int, int]]], window: int, grace: int
) -> None:
    orders, refunds = history
    program = small_program(window, grace)
    changes: list[SpendChange] = [
        order_spend(program, midnight(ORIGIN + dt.timedelta(days=day)), amount, ZONE) for day, amount in orders
    ]
    for index, day, amount in refunds:
        order_day, order_amount = orders[index]
        refund = refund_spend(
            program,
            midnight(ORIGIN + dt.timedelta(days=order_day)),
            midnight(ORIGIN + dt.timedelta(days=day)),
            min(amount, order_amount),
            ZONE,
        )
        if refund is not None:
            changes.append(refund)
    expected = brute_force_tiers(orders, refunds, window, grace)
    end = midnight(ORIGIN + dt.timedelta(days=HORIZON))
    full = tier_history(program, changes, end, ZONE)
    for offset, tier in enumerate(expected):
        noon = midnight(ORIGIN + dt.timedelta(days=offset)) + dt.timedelta(hours=12)
        passed = [c for c in full if c.at <= noon]
        assert (passed[-1].tier if passed else "Member") == tier, f"day {offset}"
    for offset in sorted({0, HORIZON // 3, HORIZON // 2, HORIZON - 1}):
        at = midnight(ORIGIN + dt.timedelta(days=offset))
        # The history up to a time is a prefix of any longer history: the future never rewrites it.
        assert tier_history(program, changes, at, ZONE) == [c for c in full if c.at <= at]
        assert tier_state(program, changes, at, ZONE).tier == expected[offset]
        # The order the changes are listed in does not matter.
        assert tier_history(program, list(reversed(changes)), at, ZONE) == tier_history(program, changes, at, ZONE)
