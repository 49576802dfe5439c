"""A pipeline of named SQL steps chained into one ``WITH`` query (after Splink's ``CTEPipeline``).

Each step is one ``SELECT`` in the portable subset (see ``c360.sql.portable``) that may read the registered tables
and any earlier step by name. The last step is the query's result; earlier steps become common table expressions,
so the engine plans the whole chain at once and nothing in between is materialised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def check_name(name: str, *, what: str = "name") -> str:
    """``name`` if it can be written unquoted on every engine; identifiers are never escaped into SQL text."""
    if not _NAME.match(name):
        raise ValueError(f"{what} {name!r} must be letters, digits and underscores, not starting with a digit")
    return name


@dataclass(frozen=True)
class Step:
    name: str
    sql: str


@dataclass(frozen=True)
class Pipeline:
    """Named steps, immutable: ``then`` returns a longer pipeline so a shared prefix can be reused."""

    steps: tuple[Step, ...] = ()

    def then(self, name: str, sql: str) -> Pipeline:
        check_name(name, what="step name")
        if any(step.name == name for step in self.steps):
            raise ValueError(f"step name {name!r} is used twice in the pipeline")
        if not sql.strip():
            raise ValueError(f"step {name!r} has no SQL")
        if sql.lstrip()[:4].upper() == "WITH":
            raise ValueError(f"step {name!r} starts with WITH: make each of its CTEs a step of the pipeline instead")
        return Pipeline((*self.steps, Step(name, sql.strip().rstrip(";"))))

    @property
    def output(self) -> str:
        """The name of the last step: what the pipeline's result is called when it is materialised."""
        if not self.steps:
            raise ValueError("the pipeline has no steps")
        return self.steps[-1].name

    def to_sql(self) -> str:
        """One query in the portable dialect: earlier steps as CTEs, the last step as the final ``SELECT``."""
        if not self.steps:
            raise ValueError("the pipeline has no steps")
        *ctes, last = self.steps
        if not ctes:
            return last.sql
        listed = ",\n".join(f"{step.name} AS (\n{step.sql}\n)" for step in ctes)
        return f"WITH {listed}\n{last.sql}"
