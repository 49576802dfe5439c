"""What to generate: how many people, over how many days, from which seed."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

#: Fixed so that the output never depends on the day the generator runs.
DEFAULT_END_DATE = dt.date(2026, 10, 31)


@dataclass(frozen=True, slots=True)
class GeneratorConfig:
    """The whole input of the generator: the same config gives the same bytes.

    `customers` counts distinct people (account holders, store-only shoppers and never-identified visitors);
    `days` counts local calendar days back from `end_date`, which is included.
    """

    customers: int = 1000
    days: int = 365
    seed: int = 42
    end_date: dt.date = field(default=DEFAULT_END_DATE)

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise ValueError(f"customers must be at least 1, got {self.customers}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if not isinstance(self.end_date, dt.date):
            raise TypeError(f"end_date must be a datetime.date, got {type(self.end_date).__name__}")

    @property
    def start_date(self) -> dt.date:
        """The first simulated local day."""
        return self.end_date - dt.timedelta(days=self.days - 1)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, as written in the manifest."""
        data = asdict(self)
        data["end_date"] = self.end_date.isoformat()
        return data
