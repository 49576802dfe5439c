"""`c360 import FILE --mapping M`: bulk import; `c360 export rejects`: the rows that were not accepted (and the
values left missing, with ``--severity warning``)."""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import orjson
import typer

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace, output_file
from c360.cli.output import err, out, print_json
from c360.errors import InvalidInput

export_app = typer.Typer(help="Export what c360 holds: the rejected rows and events.", no_args_is_help=True)

REJECT_COLUMNS = (
    "id", "received_at", "source", "origin", "severity", "file", "line", "column", "field", "reason", "payload"
)  # fmt: skip


class Severity(StrEnum):
    error = "error"
    warning = "warning"
    all = "all"


def import_file(
    file: Annotated[Path, typer.Argument(help="A CSV, JSON Lines or Parquet file, gzipped or not.")],
    mapping: Annotated[
        Path, typer.Option("--mapping", "-m", help="The mapping file (YAML): source, kind and columns.")
    ],
    workspace: WorkspaceOpt = None,
    exported_at: Annotated[
        str | None,
        typer.Option(
            "--exported-at",
            help="When the file was exported (ISO 8601; without a zone: the mapping's). The time of customer "
            "rows without an update time of their own; default: the file's modification time.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import a file through a mapping: every row is accepted once (re-imports add nothing) or rejected with its
    reason (see `c360 export rejects`); an `invalid: missing` field leaves out a value it cannot read (a warning)."""
    from c360.importer import import_file as run_import
    from c360.importer import load_mapping

    when = _exported_at(exported_at)
    with open_workspace(workspace) as ws:
        parsed_mapping = load_mapping(mapping)
        size = file.stat().st_size if file.is_file() else None
        with _byte_progress(file.name, size) as update:
            result = run_import(
                file,
                parsed_mapping,
                store=ws.store,
                log=ws.log,
                timezone=ws.settings.timezone,
                default_currency=ws.settings.default_currency,
                exported_at=when,
                progress=update,
            )
    if as_json:
        print_json(result.as_dict())
        return
    left_missing = f", {result.warned:,} values left missing" if result.warned else ""
    out.print(
        f"{result.file}: {result.rows:,} rows read, {result.accepted:,} accepted, "
        f"{result.duplicates:,} duplicates, {result.rejected:,} rejected{left_missing} "
        f"in {result.seconds:.1f} s ({result.rows_per_second:,.0f} rows/s)",
        soft_wrap=True,
    )
    if result.rejected:
        out.print(f"{result.rejected:,} rows were rejected; the first reasons:")
        for error in result.errors:
            out.print(f"  {error}")
        out.print(f"All of them: c360 export rejects --source {result.source} --out rejects.csv")
    if result.warned:
        by_field = ", ".join(f"{key} {count:,}" for key, count in result.left_missing.items())
        out.print(
            f"{result.warned:,} values could not be read and were left missing ({by_field}); the first:", soft_wrap=True
        )
        for warning in result.warnings:
            out.print(f"  {warning}", soft_wrap=True)
        hint = f"c360 export rejects --source {result.source} --severity warning --out warnings.csv"
        out.print(f"All of them: {hint}", soft_wrap=True)


def _exported_at(text: str | None) -> dt.datetime | None:
    if text is None:
        return None
    try:
        return dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"{text!r} is not an ISO 8601 time (e.g. 2026-03-01T08:00)", field="--exported-at") from None


@contextmanager
def _byte_progress(name: str, size: int | None) -> Iterator[Any]:
    """A progress bar of the bytes of the file read (stderr; hidden when it is not a terminal)."""
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(
        TextColumn("[bold]Importing {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not err.is_terminal,
    ) as progress:
        task = progress.add_task(name, total=size, rows=0)

        def update(read: int, rows: int) -> None:
            progress.update(task, completed=read, rows=rows)

        yield update


@export_app.command("rejects")
def export_rejects(
    source: Annotated[
        str | None, typer.Option("--source", "-s", help="Only this source's rejects (default: every source).")
    ] = None,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this .csv or .jsonl file (default: CSV on standard output)."),
    ] = None,
    severity: Annotated[
        Severity,
        typer.Option(
            "--severity",
            help="error: the rows and events not accepted; warning: the values an import left missing "
            "(`invalid: missing`); all: both.",
        ),
    ] = Severity.error,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="JSON Lines on standard output; with --out, a JSON summary.")
    ] = False,
) -> None:
    """Write the rejected rows and events with their reasons (file, line, column, field, why) and the row itself."""
    from c360.services.rejects import iter_rejects

    suffix = out_file.suffix.lower() if out_file is not None else ""
    if out_file is not None and suffix not in (".csv", ".jsonl", ".ndjson"):
        raise InvalidInput("the file must end in .csv or .jsonl", field="--out")
    jsonl = suffix in (".jsonl", ".ndjson") or (out_file is None and as_json)
    count = 0
    with open_workspace(workspace) as ws, output_file(out_file) as stream:
        only = None if severity is Severity.all else severity.value
        rows = iter_rejects(ws.store, source=source, severity=only)
        count = _write_jsonl(stream, rows) if jsonl else _write_csv(stream, rows)
    if out_file is None:
        return
    if as_json:
        print_json({"rejects": count, "source": source, "severity": severity.value, "out": str(out_file)})
    else:
        out.print(f"Wrote {count:,} {'warnings' if severity is Severity.warning else 'rejects'} to {out_file}")


def _cell(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def _write_csv(stream: TextIO, rows: Iterator[dict[str, Any]]) -> int:
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(REJECT_COLUMNS)
    count = 0
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in REJECT_COLUMNS])
        count += 1
    return count


def _write_jsonl(stream: TextIO, rows: Iterator[dict[str, Any]]) -> int:
    count = 0
    for row in rows:
        record = {name: _cell(row.get(name)) for name in REJECT_COLUMNS}
        payload = record.get("payload")
        if isinstance(payload, str) and payload.startswith("{"):
            with contextlib.suppress(orjson.JSONDecodeError):  # an imported row's values: an object, not text
                record["payload"] = orjson.loads(payload)
        stream.write(orjson.dumps(record).decode() + "\n")
        count += 1
    return count
