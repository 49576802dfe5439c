"""The loyalty.yaml schema: the shipped example validates, and every malformed file names the key that is wrong."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

import c360.loyalty
from c360.errors import InvalidInput
from c360.loyalty.program import ProgramError, load_program, parse_program
from c360.loyalty.rules import Member, Order, earn_for_event, earn_for_order

EXAMPLE = Path(c360.loyalty.__file__).parent / "example.yaml"
ZONE = ZoneInfo("Asia/Ho_Chi_Minh")

Data = dict[str, Any]


def example_data() -> Data:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return copy.deepcopy(data)


def test_the_shipped_example_validates() -> None:
    program = load_program(EXAMPLE)
    assert program.name == "Sen Vàng Rewards"
    assert program.currency == "VND"
    assert [t.name for t in program.tiers.levels] == ["Member", "Silver", "Gold", "Diamond"]
    assert [t.min_spend for t in program.tiers.levels] == [0, 5_000_000, 15_000_000, 40_000_000]
    assert program.tiers.downgrade_grace_months == 3
    assert program.tiers.window_months == 12
    (version,) = program.versions
    assert version.effective_from == dt.date(2024, 1, 1)
    assert version.spend.per == 10_000
    assert version.spend.min_order == 50_000
    assert version.spend.exclude_categories == ["Thẻ quà tặng"]
    assert [m.name for m in version.multipliers] == ["Skincare month"]
    assert [c.name for c in version.campaigns] == ["Gold week"]
    assert [e.name for e in version.events] == [
        "Review written",
        "Survey answered",
        "App installed",
        "Profile completed",
    ]
    assert version.referral is not None
    assert version.referral.points == 500
    assert version.expiry is not None
    assert version.expiry.months == 12
    assert version.pending_days == 14
    assert version.rounding == "floor_once"
    assert [r.id for r in program.rewards] == ["voucher-100k", "voucher-500k", "tote-bag"]
    assert parse_program(example_data()) == program


def test_multipliers_written_as_decimals_are_exact_fractions() -> None:
    program = load_program(EXAMPLE)
    multipliers = [t.multiplier for t in program.tiers.levels]
    assert multipliers == [Fraction(1), Fraction(6, 5), Fraction(3, 2), Fraction(2)]
    assert all(isinstance(m, Fraction) for m in multipliers)
    assert multipliers[1] != Fraction(1.2)  # not the binary float 1.2
    assert program.versions[0].campaigns[0].factor == Fraction(3)
    birthday = program.versions[0].birthday
    assert birthday is not None
    assert birthday.factor == Fraction(2)


@pytest.mark.parametrize(("written", "exact"), [(1.1, Fraction(11, 10)), ("1.25", Fraction(5, 4)), (3, Fraction(3))])
def test_a_factor_is_read_through_its_text(written: object, exact: Fraction) -> None:
    data = example_data()
    data["versions"][0]["multipliers"][0]["factor"] = written
    assert parse_program(data).versions[0].multipliers[0].factor == exact


def _set(path: str, value: object) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        *parents, last = path.split(".")
        node: Any = data
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return change


def _append(path: str, item: Callable[[Data], object]) -> Callable[[Data], None]:
    def change(data: Data) -> None:
        node: Any = data
        for part in path.split("."):
            node = node[int(part)] if isinstance(node, list) else node[part]
        node.append(item(data))

    return change


MALFORMED: list[tuple[str, Callable[[Data], None], str]] = [
    ("unknown key", _set("versions.0.spend.perr", 1), "versions.0.spend.perr: unknown key"),
    ("unknown top-level key", _set("currencies", ["VND"]), "currencies: unknown key"),
    ("zero per", _set("versions.0.spend.per", 0), "versions.0.spend.per: Input should be greater than 0"),
    ("negative per", _set("versions.0.spend.per", -10_000), "versions.0.spend.per: Input should be greater than 0"),
    (
        "tiers not increasing",
        _set("tiers.levels.2.min_spend", 5_000_000),
        "tiers: tier 'Gold' must need more spend than 'Silver'",
    ),
    (
        "first tier above 0",
        _set("tiers.levels.0.min_spend", 1),
        "tiers: the first tier must start at min_spend 0 (every member is in a tier)",
    ),
    ("duplicate tier names", _set("tiers.levels.3.name", "Gold"), "tiers: tier names must be unique"),
    (
        "unknown tier in a campaign",
        _set("versions.0.campaigns.0.tiers", ["Gold", "Platinum"]),
        "versions.0.campaigns.0.tiers: unknown tier 'Platinum'",
    ),
    (
        "versions out of order",
        _append("versions", lambda _d: {"effective_from": "2023-06-01"}),
        "versions: must be in order of effective_from, one per date",
    ),
    (
        "two versions on one date",
        _append("versions", lambda _d: {"effective_from": "2024-01-01"}),
        "versions: must be in order of effective_from, one per date",
    ),
    ("no version", _set("versions", []), "versions: declare at least one version"),
    (
        "duplicate reward ids",
        _append("rewards", lambda d: {**d["rewards"][0], "name": "Another voucher"}),
        "rewards: reward ids must be unique",
    ),
    (
        "duplicate rule names",
        _set("versions.0.events.1.name", "Review written"),
        "versions.0: two rules are named 'Review written': rule names must be unique in a version",
    ),
    (
        "a campaign named like a multiplier",
        _set("versions.0.campaigns.0.name", "Skincare month"),
        "versions.0: two rules are named 'Skincare month': rule names must be unique in a version",
    ),
    (
        "multiplier factor below 1",
        _set("versions.0.multipliers.0.factor", 0.5),
        "versions.0.multipliers.0.factor: must be at least 1",
    ),
    (
        "campaign factor below 1",
        _set("versions.0.campaigns.0.factor", "0.9"),
        "versions.0.campaigns.0.factor: must be at least 1",
    ),
    (
        "birthday factor below 1",
        _set("versions.0.birthday.factor", 0.5),
        "versions.0.birthday.factor: must be at least 1",
    ),
    (
        "tier multiplier below 1",
        _set("tiers.levels.1.multiplier", 0.8),
        "tiers.levels.1.multiplier: must be at least 1",
    ),
    (
        "factor not a number",
        _set("versions.0.multipliers.0.factor", "x2"),
        "versions.0.multipliers.0.factor: 'x2' is not a number",
    ),
    (
        "factor a boolean",
        _set("versions.0.multipliers.0.factor", True),
        "versions.0.multipliers.0.factor: must be a number",
    ),
    (
        "campaign ends before it starts",
        _set("versions.0.campaigns.0.ends", "2025-12-01"),
        "versions.0.campaigns.0.ends: must not be before starts",
    ),
    (
        "multiplier ends before it starts",
        _set("versions.0.multipliers.0.ends", "2026-02-28"),
        "versions.0.multipliers.0.ends: must not be before starts",
    ),
    (
        "multiplier for nothing",
        _set("versions.0.multipliers.0.categories", []),
        "versions.0.multipliers.0: name at least one of skus or categories",
    ),
    (
        "zero cap",
        _set("versions.0.events.0.caps", {"month": 0}),
        "versions.0.events.0.caps.month: Input should be greater than 0",
    ),
    (
        "unknown cap period",
        _set("versions.0.events.0.caps", {"fortnight": 5}),
        "versions.0.events.0.caps.fortnight: unknown key",
    ),
    ("currency", _set("currency", "dong"), "currency: 'dong' is not an ISO 4217 code such as VND"),
    (
        "rounding",
        _set("versions.0.rounding", "round"),
        "versions.0.rounding: Input should be 'floor_once' or 'floor_each'",
    ),
]


@pytest.mark.parametrize(("change", "message"), [(c, m) for _, c, m in MALFORMED], ids=[n for n, _, _ in MALFORMED])
def test_a_malformed_program_names_the_bad_key(change: Callable[[Data], None], message: str) -> None:
    data = example_data()
    change(data)
    with pytest.raises(ProgramError) as caught:
        parse_program(data)
    assert str(caught.value) == message
    key, reason = message.split(": ", 1)
    assert caught.value.field == key
    assert caught.value.reason == reason
    assert isinstance(caught.value, InvalidInput)


def test_a_missing_required_key_is_named() -> None:
    data = example_data()
    del data["versions"]
    with pytest.raises(ProgramError, match=r"^versions: is required$"):
        parse_program(data)
    data = example_data()
    del data["versions"][0]["effective_from"]
    with pytest.raises(ProgramError, match=r"^versions\.0\.effective_from: is required$"):
        parse_program(data)


@pytest.mark.parametrize("top", [["versions"], "Sen Vàng", None, 42])
def test_the_top_level_must_be_a_mapping(top: object) -> None:
    with pytest.raises(ProgramError) as caught:
        parse_program(top)
    assert str(caught.value) == "a program file holds keys such as `name:`, `versions:`, `tiers:` and `rewards:`"


def test_a_file_that_is_not_yaml_says_where(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text("name: Sen Vàng\nversions:\n  - effective_from: [2024-01-01\n", encoding="utf-8")
    with pytest.raises(ProgramError) as caught:
        load_program(path)
    message = str(caught.value)
    assert message.startswith(f"{path} is not valid YAML (line 4, column 1): ")
    assert caught.value.field is None


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    with pytest.raises(ProgramError) as caught:
        load_program(path)
    assert str(caught.value) == f"no loyalty program at {path}: write one (see docs/loyalty.md)"


def test_an_empty_file_is_not_a_program(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text("", encoding="utf-8")
    with pytest.raises(ProgramError, match="a program file holds keys"):
        load_program(path)


def test_a_file_with_a_byte_order_mark_loads(tmp_path: Path) -> None:
    path = tmp_path / "loyalty.yaml"
    path.write_text("\ufeff" + EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    assert load_program(path) == load_program(EXAMPLE)


def test_a_file_loaded_from_disk_reports_the_same_key(tmp_path: Path) -> None:
    data = example_data()
    data["versions"][0]["spend"]["perr"] = 1
    path = tmp_path / "loyalty.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ProgramError, match=r"^versions\.0\.spend\.perr: unknown key$"):
        load_program(path)


# --- versions: a change takes effect from a date ------------------------------------------------------------------
def two_versions() -> Data:
    """The example, plus a version from 1 July 2026 that pays 2 points per 10,000 VND and 30 per review."""
    data = example_data()
    second = copy.deepcopy(data["versions"][0])
    second["effective_from"] = "2026-07-01"
    second["spend"]["points"] = 2
    second["events"][0]["points"] = 30
    second.pop("referral")
    data["versions"].append(second)
    return data


def test_version_at_picks_the_version_in_effect_on_a_date() -> None:
    program = parse_program(two_versions())
    first, second = program.versions
    assert program.version_at(dt.date(2023, 12, 31)) is None
    assert program.version_at(dt.date(2024, 1, 1)) is first
    assert program.version_at(dt.date(2026, 6, 30)) is first
    assert program.version_at(dt.date(2026, 7, 1)) is second
    assert program.version_at(dt.date(2030, 1, 1)) is second


def test_an_award_uses_the_rules_in_effect_on_its_local_date() -> None:
    program = parse_program(two_versions())
    member = Member("Member")

    def award_at(at: dt.datetime) -> tuple[int, str]:
        award = earn_for_order(program, Order("o", at, "VND", 1_000_000), member, ZONE)
        return award.points, award.reason

    # 30 June 23:59 local is still the first version; 1 July 00:00 local (30 June 17:00 UTC) the second.
    assert award_at(dt.datetime(2026, 6, 30, 16, 59, tzinfo=dt.UTC)) == (
        100,
        "+100 1 point per 10,000 VND on 1,000,000 VND",
    )
    assert award_at(dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC)) == (
        200,
        "+200 2 points per 10,000 VND on 1,000,000 VND",
    )
    before = earn_for_event(program, "Product Reviewed", dt.datetime(2026, 6, 30, 16, 59, tzinfo=dt.UTC), ZONE)
    after = earn_for_event(program, "Product Reviewed", dt.datetime(2026, 6, 30, 17, 0, tzinfo=dt.UTC), ZONE)
    assert before is not None
    assert before.points == 20
    assert after is not None
    assert after.points == 30
