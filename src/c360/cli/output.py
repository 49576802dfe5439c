"""Printing for the CLI: rich for people, JSON for scripts, errors on stderr."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

# markup=False: paths, names and messages come from users and may hold "[...]", which rich would eat or choke on.
out = Console(highlight=False, markup=False)
err = Console(stderr=True, highlight=False, markup=False)


def print_json(data: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON for a script reading it.
    print(json.dumps(data, indent=2, default=str, ensure_ascii=False))


@contextmanager
def progress_bar(description: str, total: int | None = None) -> Iterator[Any]:
    """A progress bar on stderr (stdout stays clean for --json); yields ``advance(n)`` and ``set_total(t)``."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=False,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(description, total=total)

        class Handle:
            def advance(self, n: int = 1) -> None:
                progress.advance(task, n)

            def update(self, done: int, total: int | None = None) -> None:
                progress.update(task, completed=done, total=total)

            def step(self, description: str) -> None:
                """A job of named steps: show the next one and count the one before as done."""
                progress.update(task, description=description)
                progress.advance(task, 1)

        yield Handle()
