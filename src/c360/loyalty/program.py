"""The loyalty program as declared in a workspace's ``loyalty.yaml``: parsed, validated, versioned.

Earn rules are versioned: each version takes effect from a date (in the workspace's time zone) and an award is
computed by the version in effect when the order or event happened, then stored — a later version never rewrites
it. Tiers and the rewards catalogue are the program's current state.

Errors name the key that is wrong (``versions.0.earn.spend.per: must be greater than 0``).
"""

from __future__ import annotations

import datetime as dt
import re
from fractions import Fraction
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from c360.errors import InvalidInput
from c360.yamlfile import read_yaml

PROGRAM_FILE = "loyalty.yaml"

Period = Literal["day", "week", "month", "year", "lifetime"]
PositiveInt = Annotated[int, Field(gt=0)]
Factor = Annotated[Fraction, Field()]


class ProgramError(InvalidInput):
    """A program file that cannot be used; ``field`` is the dotted key that is wrong."""

    def __init__(self, reason: str, key: str | None = None) -> None:
        super().__init__(reason, field=key)
        self.reason = reason


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


def _fraction(value: object) -> Fraction:
    # A multiplier written as 1.2 means exactly 6/5: read through its text, never through binary floating point.
    if isinstance(value, bool):
        raise ValueError("must be a number")
    if isinstance(value, Fraction):
        return value
    if isinstance(value, int | float | str):
        try:
            return Fraction(str(value))
        except (ValueError, ZeroDivisionError):
            pass
    raise ValueError(f"{value!r} is not a number")


def _factor_at_least_one(value: object) -> Fraction:
    # A factor below 1 would give a negative share, which an award cannot show: refuse it where it is written.
    factor = _fraction(value)
    if factor < 1:
        raise ValueError("must be at least 1")
    return factor


class Caps(_Model):
    """Most points one rule may give one member per calendar period (workspace time zone)."""

    day: PositiveInt | None = None
    week: PositiveInt | None = None
    month: PositiveInt | None = None
    year: PositiveInt | None = None
    lifetime: PositiveInt | None = None

    def items(self) -> list[tuple[Period, int]]:
        pairs: list[tuple[Period, int | None]] = [
            ("day", self.day),
            ("week", self.week),
            ("month", self.month),
            ("year", self.year),
            ("lifetime", self.lifetime),
        ]
        return [(period, limit) for period, limit in pairs if limit is not None]


class SpendRule(_Model):
    """Points per amount spent: ``points`` for every ``per`` (in major units of the program's currency)."""

    per: Annotated[int, Field(gt=0)] = 10_000
    points: PositiveInt = 1
    exclude: list[Literal["shipping", "tax", "discount"]] = ["shipping", "tax"]
    exclude_skus: list[str] = []
    exclude_categories: list[str] = []
    min_order: Annotated[int, Field(ge=0)] = 0
    caps: Caps | None = None


class Multiplier(_Model):
    """Lines of these products or categories earn ``factor`` times, optionally only between two dates."""

    name: str
    factor: Factor
    skus: list[str] = []
    categories: list[str] = []
    starts: dt.date | None = None
    ends: dt.date | None = None  # inclusive

    _factor = field_validator("factor", mode="before")(_factor_at_least_one)

    @model_validator(mode="after")
    def _check(self) -> Multiplier:
        if not self.skus and not self.categories:
            raise ValueError("name at least one of skus or categories")
        _check_window(self.starts, self.ends)
        return self


class Campaign(_Model):
    """A time-boxed multiplier for chosen tiers (or everyone), with an optional points budget."""

    name: str
    factor: Factor
    starts: dt.date
    ends: dt.date  # inclusive
    tiers: list[str] = []  # empty: every tier
    segments: list[str] = []  # empty: everyone; else members of at least one of these segments
    categories: list[str] = []  # empty: every eligible line
    budget: PositiveInt | None = None  # most points the campaign gives in all
    caps: Caps | None = None

    _factor = field_validator("factor", mode="before")(_factor_at_least_one)

    @model_validator(mode="after")
    def _check(self) -> Campaign:
        _check_window(self.starts, self.ends)
        return self


class EventRule(_Model):
    """Points for doing something: writing a review, answering a survey, installing the app."""

    name: str
    event: str
    points: PositiveInt
    caps: Caps | None = None


class Bonus(_Model):
    points: PositiveInt


class Birthday(_Model):
    factor: Factor = Fraction(2)

    _factor = field_validator("factor", mode="before")(_factor_at_least_one)


class Expiry(_Model):
    """Points expire at the end of the ``months``-th calendar month after the month they were earned in."""

    months: Annotated[int, Field(ge=1, le=120)] = 12


class Version(_Model):
    effective_from: dt.date
    spend: SpendRule = SpendRule()
    multipliers: list[Multiplier] = []
    campaigns: list[Campaign] = []
    events: list[EventRule] = []
    birthday: Birthday | None = None
    referral: Bonus | None = None
    pending_days: Annotated[int, Field(ge=0, le=365)] = 14
    expiry: Expiry | None = Expiry()
    rounding: Literal["floor_once", "floor_each"] = "floor_once"

    @model_validator(mode="after")
    def _unique_names(self) -> Version:
        names = [m.name for m in self.multipliers] + [c.name for c in self.campaigns] + [e.name for e in self.events]
        seen: set[str] = set()
        for name in names:
            if name in seen:
                raise ValueError(f"two rules are named {name!r}: rule names must be unique in a version")
            seen.add(name)
        return self


class Tier(_Model):
    name: str
    min_spend: Annotated[int, Field(ge=0)]  # qualifying spend in major units over the window
    multiplier: Factor = Fraction(1)

    _factor = field_validator("multiplier", mode="before")(_factor_at_least_one)


class Tiers(_Model):
    window_months: Annotated[int, Field(ge=1, le=60)] = 12
    downgrade_grace_months: Annotated[int, Field(ge=0, le=24)] = 3
    levels: list[Tier] = [Tier(name="Member", min_spend=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Tiers:
        if not self.levels:
            raise ValueError("declare at least one tier")
        if self.levels[0].min_spend != 0:
            raise ValueError("the first tier must start at min_spend 0 (every member is in a tier)")
        for lower, higher in zip(self.levels, self.levels[1:], strict=False):
            if higher.min_spend <= lower.min_spend:
                raise ValueError(f"tier {higher.name!r} must need more spend than {lower.name!r}")
        names = [t.name for t in self.levels]
        if len(set(names)) != len(names):
            raise ValueError("tier names must be unique")
        return self

    def index(self, name: str) -> int:
        for i, tier in enumerate(self.levels):
            if tier.name == name:
                return i
        raise KeyError(name)


class Voucher(_Model):
    value: PositiveInt  # major units of the program's currency
    valid_days: Annotated[int, Field(ge=1, le=3650)] = 90


class Reward(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    name: str
    points: PositiveInt
    voucher: Voucher | None = None
    stock: Annotated[int, Field(ge=0)] | None = None  # None: unlimited
    per_member: PositiveInt | None = None


class Program(_Model):
    name: str = "Loyalty"
    currency: str = "VND"
    auto_enrol: bool = True
    transfers: bool = False
    versions: list[Version]
    tiers: Tiers = Tiers()
    rewards: list[Reward] = []

    @field_validator("currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if len(value) != 3 or not value.isalpha():
            raise ValueError(f"{value!r} is not an ISO 4217 code such as VND")
        return value.upper()

    @model_validator(mode="after")
    def _check(self) -> Program:
        if not self.versions:
            raise ValueError("versions: declare at least one version")
        dates = [v.effective_from for v in self.versions]
        if dates != sorted(dates) or len(set(dates)) != len(dates):
            raise ValueError("versions: must be in order of effective_from, one per date")
        tier_names = {t.name for t in self.tiers.levels}
        for i, version in enumerate(self.versions):
            for j, campaign in enumerate(version.campaigns):
                unknown = [t for t in campaign.tiers if t not in tier_names]
                if unknown:
                    raise ValueError(f"versions.{i}.campaigns.{j}.tiers: unknown tier {unknown[0]!r}")
        ids = [r.id for r in self.rewards]
        if len(set(ids)) != len(ids):
            raise ValueError("rewards: reward ids must be unique")
        return self

    def version_at(self, day: dt.date) -> Version | None:
        """The version in effect on ``day`` (a local date); None before the program started."""
        current = None
        for version in self.versions:
            if version.effective_from <= day:
                current = version
        return current

    def reward(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)


def _check_window(starts: dt.date | None, ends: dt.date | None) -> None:
    if starts is not None and ends is not None and ends < starts:
        raise ValueError("ends: must not be before starts")


def parse_program(data: object) -> Program:
    if not isinstance(data, dict):
        raise ProgramError("a program file holds keys such as `name:`, `versions:`, `tiers:` and `rewards:`")
    try:
        return Program.model_validate(data)
    except ValidationError as exc:
        raise _program_error(exc) from None


def load_program(path: Path) -> Program:
    """The program in YAML file ``path``; ProgramError naming the bad key."""
    missing = f"no loyalty program at {path}: write one (see docs/loyalty.md)"
    return parse_program(read_yaml(path, ProgramError, missing=missing))


def _program_error(exc: ValidationError) -> ProgramError:
    first: Any = exc.errors()[0]
    loc = ".".join(str(part) for part in first["loc"] if not str(part).startswith(("function-", "constrained-")))
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return ProgramError("unknown key", loc)
    if first["type"] == "missing":
        return ProgramError("is required", loc)
    key, colon, reason = message.partition(": ")
    if colon and _KEY.fullmatch(key):
        # A validator's message may name the key below where it ran ("ends: ..."); the program's own validator
        # runs at the top and names the whole path ("versions.0.campaigns.0.tiers: ...").
        return ProgramError(reason, f"{loc}.{key}" if loc else key)
    return ProgramError(message, loc or None)


_KEY = re.compile(r"[A-Za-z_]\w*(\.\w+)*")
