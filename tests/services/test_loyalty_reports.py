"""`reports.summary`: the exact figures of a small scripted ledger, and the rewards catalogue's stock."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from c360.loyalty.program import load_program
from c360.loyalty.rules import Order
from c360.services.loyalty import Loyalty, balances_replayed, reports
from c360.store import Store
from c360.store.schema import loyalty_members

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "c360" / "loyalty" / "example.yaml"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = dt.datetime(2026, 3, 1, 3, tzinfo=dt.UTC)  # 10:00 in Hồ Chí Minh City


def _order(order_id: str, at: dt.datetime, total: int) -> Order:
    return Order(order_id, at, "VND", total)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store.open(f"sqlite:///{tmp_path}/loyalty.db")


@pytest.fixture
def loyalty(store: Store) -> Loyalty:
    """Six members, every operation recorded at NOW (10:00 local on 1 March 2026):

    - a: order of 1,000,000 VND on 5 Jan 2026: 100 points, active by now (14 pending days passed);
    - b: +3,000 by adjustment, then a 100k voucher (2,000 points): 1,000 active;
    - c: order of 20,000,000 VND on 1 Oct 2025 (2,000 points, Gold), half refunded on 1 Nov 2025 (1,000 points
      back); the spend stayed below Gold for the 3-month grace, so c dropped to Silver on 1 Feb 2026;
    - d: order of 500,000 VND on 10 Jan 2025: 50 points that expired at the end of January 2026;
    - e: order of 300,000 VND on 25 Feb 2026: 30 points still pending;
    - f: order of 6,000,000 VND on 20 Jan 2026: 600 points and Silver.
    """
    service = Loyalty(store, load_program(EXAMPLE), ZONE, clock=lambda: NOW)
    service.order("pos", _order("A1", dt.datetime(2026, 1, 5, 3, tzinfo=dt.UTC), 1_000_000), "a")
    service.enrol("b")
    service.adjust("b", 3000, "welcome gift", key="b-gift")
    service.redeem("b", "voucher-100k", key="b-1")
    service.order("pos", _order("C1", dt.datetime(2025, 10, 1, 3, tzinfo=dt.UTC), 20_000_000), "c")
    service.refund("pos", "C1", "R1", amount=10_000_000, at=dt.datetime(2025, 11, 1, 3, tzinfo=dt.UTC))
    service.order("pos", _order("D1", dt.datetime(2025, 1, 10, 3, tzinfo=dt.UTC), 500_000), "d")
    service.order("pos", _order("E1", dt.datetime(2026, 2, 25, 3, tzinfo=dt.UTC), 300_000), "e")
    service.order("pos", _order("F1", dt.datetime(2026, 1, 20, 3, tzinfo=dt.UTC), 6_000_000), "f")
    service.run_schedule()
    return service


def test_the_points_and_the_rates(loyalty: Loyalty) -> None:
    report = reports.summary(loyalty)
    assert report["as_of"] == NOW.isoformat()
    assert report["currency"] == "VND"
    assert report["members"] == {"active": 6, "merged": 0}
    assert report["points"] == {
        "outstanding": 2730,  # 30 pending + 2,700 active
        "pending": 30,
        "active": 2700,  # a 100 + b 1,000 + c 1,000 + f 600
        "debt": 0,
        "issued": 5780,
        "issued_by_earning": 2780,  # 100 + 2,000 + 50 + 30 + 600
        "issued_by_adjustment": 3000,
        "redeemed": 2000,
        "expired": 50,
        "reversed": 1000,
    }
    points = report["points"]
    assert points["issued"] == sum(points[k] for k in ("pending", "active", "redeemed", "expired", "reversed", "debt"))
    assert report["rates"]["breakage"] == round(50 / 5780, 4) == 0.0087
    assert report["rates"]["redemption"] == round(2000 / 5780, 4) == 0.346


def test_the_figures_agree_with_the_replayed_postings(loyalty: Loyalty) -> None:
    report = reports.summary(loyalty)
    with loyalty.store.read() as conn:
        replayed = balances_replayed(conn)
    for account in ("pending", "active", "redeemed", "expired", "reversed", "debt"):
        assert report["points"][account] == sum(v for (_, a), v in replayed.items() if a == account), account


def test_the_liability_is_valued_at_the_best_voucher_value_per_point(loyalty: Loyalty) -> None:
    liability = reports.summary(loyalty)["liability"]
    # voucher-500k pays 500,000 VND for 9,000 points (55.6 a point), more than voucher-100k's 50 a point.
    assert liability["reward_id"] == "voucher-500k"
    assert liability["amount"] == 2730 * 500_000 // 9000 == 151_666
    assert liability["currency"] == "VND"
    assert liability["points"] == 2730
    assert liability["value_per_point"] == {"value": 500_000, "points": 9000, "minor_units": 55.555556}
    assert "best voucher value per point" in liability["method"]
    assert "voucher-500k" in liability["method"]


def test_without_vouchers_the_liability_says_it_is_not_valued(store: Store, tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").split("\nrewards:")[0] + "\nrewards:\n"
    text += "  - {id: tote-bag, name: Tote, points: 1500, stock: 200}\n"
    (tmp_path / "loyalty.yaml").write_text(text, encoding="utf-8")
    service = Loyalty(store, load_program(tmp_path / "loyalty.yaml"), ZONE, clock=lambda: NOW)
    service.enrol("x")
    service.adjust("x", 10, "test")
    liability = reports.summary(service)["liability"]
    assert liability["amount"] is None
    assert "no voucher reward" in liability["method"]


def test_the_tiers(loyalty: Loyalty) -> None:
    tiers = reports.summary(loyalty)["tiers"]
    assert tiers["distribution"] == {"Member": 4, "Silver": 2, "Gold": 0, "Diamond": 0}
    assert tiers["movement_days"] == 90
    # c's move up to Gold (1 Oct 2025) is older than 90 days; its drop to Silver and f's move up are not.
    assert tiers["movement"] == [
        {"from": "Member", "to": "Silver", "direction": "up", "changes": 1, "members": 1},
        {"from": "Gold", "to": "Silver", "direction": "down", "changes": 1, "members": 1},
    ]
    older = reports.summary(loyalty, now=dt.datetime(2025, 10, 2, tzinfo=dt.UTC))["tiers"]["movement"]
    assert older == [{"from": "Member", "to": "Gold", "direction": "up", "changes": 1, "members": 1}]


def test_the_members_whose_points_expire_soon(loyalty: Loyalty) -> None:
    soon = reports.summary(loyalty)["expiring"]
    assert (soon["days"], soon["members_count"], soon["points"], soon["members"]) == (30, 0, 0, [])

    year = reports.summary(loyalty, expiring_days=365, limit=2)["expiring"]
    assert year["until"] == "2027-03-01T03:00:00+00:00"
    # b's adjustment (March 2026) expires at the end of March 2027: after the year. d's points have expired.
    assert year["members_count"] == 4  # a, c, e, f
    assert year["points"] == 100 + 1000 + 30 + 600
    assert year["members"] == [
        {"member_id": "c", "points": 1000, "earliest_expiry": "2026-10-31T17:00:00+00:00"},
        {"member_id": "f", "points": 600, "earliest_expiry": "2027-01-31T17:00:00+00:00"},  # more points first
    ]
    rest = reports.summary(loyalty, expiring_days=365)["expiring"]["members"]
    assert [(m["member_id"], m["points"]) for m in rest] == [("c", 1000), ("f", 600), ("a", 100), ("e", 30)]
    assert rest[-1]["earliest_expiry"] == "2027-02-28T17:00:00+00:00"


def test_an_empty_program(store: Store) -> None:
    service = Loyalty(store, load_program(EXAMPLE), ZONE, clock=lambda: NOW)
    report = reports.summary(service)
    assert report["members"] == {"active": 0, "merged": 0}
    assert report["points"]["issued"] == report["points"]["outstanding"] == 0
    assert report["rates"]["breakage"] is None
    assert report["rates"]["redemption"] is None
    assert report["liability"]["amount"] == 0
    assert report["tiers"]["distribution"] == {"Member": 0, "Silver": 0, "Gold": 0, "Diamond": 0}


def test_the_catalogue_counts_the_stock_left(store: Store) -> None:
    service = Loyalty(store, load_program(EXAMPLE), ZONE, clock=lambda: NOW)
    service.enrol("a")
    service.adjust("a", 5000, "test")
    service.redeem("a", "tote-bag")
    rewards = {r["reward_id"]: r for r in reports.catalogue(service)}
    assert rewards["tote-bag"]["stock"] == 200
    assert rewards["tote-bag"]["stock_left"] == 199
    assert rewards["voucher-100k"]["stock_left"] is None
    assert rewards["voucher-100k"]["voucher"] == {"value": 100_000, "currency": "VND", "valid_days": 90}
    with store.read() as conn:
        assert conn.execute(select(func.count()).select_from(loyalty_members)).scalar_one() == 1
