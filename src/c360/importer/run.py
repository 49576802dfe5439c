"""One import: a file read in batches, each batch mapped, checked, turned into log records and appended durably.

Memory stays flat as the file grows: a batch is a few MB of the file, at most ``_IN_FLIGHT`` batches wait for
the log's writer while the next one is built (so the durable write of one batch overlaps the mapping of the
next), and rejects are stored batch by batch. Every row ends accepted, duplicate or rejected with its reason; a
value that a field with ``invalid: missing`` cannot read leaves that field missing and is stored as a warning.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from c360.domain.timestamps import format_utc, from_micros, to_micros
from c360.errors import Overloaded
from c360.eventlog import AppendResult, EventLog, LogRecord
from c360.importer.columns import TimeReader
from c360.importer.fieldreader import FieldReader, Problem
from c360.importer.identity import SEPARATOR, message_id, message_ids
from c360.importer.mapping import Mapping, MappingError
from c360.importer.readers import RawBatch, read_batches
from c360.importer.segment_rows import event_records
from c360.importer.shapes import Context, Shape, read_frame, shape_for
from c360.importer.sniff import FileInfo, sniff
from c360.importer.template import Col, Const, Obj, render_json, render_rows
from c360.services.ingest import to_record
from c360.services.keys import ensure_source
from c360.services.rejects import Reject, Severity, record_rejects
from c360.store import Store

#: Batches handed to the log's writer and not yet durable, at most: one being written while the next is built.
_IN_FLIGHT = 2
_ERRORS_KEPT = 10
Progress = Callable[[int, int], None]  # (bytes of the file read, rows read)


@dataclass
class ImportResult:
    file: str
    source: str
    kind: str
    format: str
    encoding: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    #: Values left missing (``invalid: missing``) by mapping key; each is a warning in the rejects table.
    left_missing: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def warned(self) -> int:
        """How many values were left missing, all fields together."""
        return sum(self.left_missing.values())

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "source": self.source,
            "kind": self.kind,
            "format": self.format,
            "encoding": self.encoding,
            "rows": self.rows,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "warned": self.warned,
            "left_missing": self.left_missing,
            "seconds": round(self.seconds, 3),
            "rows_per_second": round(self.rows_per_second),
            "errors": self.errors,
            "warnings": self.warnings,
        }


def import_file(
    path: Path,
    mapping: Mapping,
    *,
    store: Store,
    log: EventLog,
    timezone: str,
    default_currency: str,
    exported_at: dt.datetime | None = None,
    progress: Progress | None = None,
    vectorised: bool = True,
    block_bytes: int = 1 << 20,
    received_at: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> ImportResult:
    """Import ``path`` as ``mapping`` says into ``log``; rejects (and warnings) go to ``store``'s rejects table.

    ``exported_at`` is the time of the export (default: the file's modification time): the timestamp of customer
    rows that carry no update time of their own. ``vectorised=False`` builds each message as a dict and passes
    it through ``to_record`` (the reference that the fast path is tested against).
    """
    started = time.perf_counter()
    info = sniff(path, encoding=mapping.encoding, delimiter=mapping.delimiter)
    _check_columns(info, mapping)
    zone_name = mapping.timezone or timezone
    if exported_at is None:
        exported_at = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    elif exported_at.tzinfo is None:
        exported_at = exported_at.replace(tzinfo=ZoneInfo(zone_name))
    ensure_source(store, mapping.source)
    result = ImportResult(str(path), mapping.source, mapping.kind, info.format, info.encoding)
    job = Job(mapping, path.name, zone_name, default_currency, exported_at, vectorised=vectorised, clock=received_at)
    appender = _Appender(log, result)
    left_missing: Counter[str] = Counter()
    try:
        for batch in read_batches(info, block_bytes=block_bytes):
            records, rejects = job.batch(batch)
            result.rows += batch.table.num_rows + len(batch.unreadable)
            if rejects:
                record_rejects(store, rejects)
                for reject in rejects:
                    if reject.severity == "warning":
                        left_missing[reject.field or ""] += 1
                        _keep(result.warnings, reject)
                    else:
                        result.rejected += 1
                        _keep(result.errors, reject)
            appender.append(records)
            if progress is not None:
                progress(batch.bytes_read, result.rows)
        appender.finish()
    finally:
        job.close()
    result.left_missing = dict(left_missing)
    result.seconds = time.perf_counter() - started
    return result


def _keep(messages: list[str], reject: Reject) -> None:
    """The first ``_ERRORS_KEPT`` reasons, with where they are."""
    if len(messages) < _ERRORS_KEPT:
        where = f"line {reject.line}" if reject.line is not None else "a row"
        messages.append(f"{where}: {reject.field or reject.column or 'row'}: {reject.reason}")


def _check_columns(info: FileInfo, mapping: Mapping) -> None:
    """Every column the mapping names is in the file (CSV header, Parquet schema)."""
    if info.format == "jsonl" or mapping.kind == "events":
        return  # JSON lines carry their own keys; a key missing on a line is a missing value
    if info.format == "csv":
        available = list(info.header)
    else:
        import pyarrow.parquet as pq

        available = list(pq.read_schema(info.path).names)
    for source in mapping.sources():
        for column in source.columns:
            if column not in available:
                raise MappingError(
                    f"column {column!r} is not in {info.path.name} (its columns: {', '.join(available)})", source.key
                )


class Job:
    """The per-batch work of one import: a batch of rows in, log records and rejects (and warnings) out."""

    def __init__(
        self,
        mapping: Mapping,
        file_name: str,
        zone_name: str,
        default_currency: str,
        exported_at: dt.datetime,
        *,
        vectorised: bool = True,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.mapping = mapping
        self.file_name = file_name
        self.zone = ZoneInfo(zone_name)
        self.exported_at = exported_at
        self.vectorised = vectorised
        self.clock = clock
        self.times = TimeReader(zone_name)
        # Milliseconds, as Segment writes times (to_record would keep no more of the text either).
        exported_ms = to_micros(exported_at) // 1000
        self.context = Context(
            self.file_name, exported_ms, format_utc(from_micros(exported_ms * 1000)), default_currency
        )
        self.shape: Shape | None = shape_for(mapping, self.file_name) if mapping.kind != "events" else None

    def close(self) -> None:
        self.times.close()

    def batch(self, batch: RawBatch) -> tuple[list[LogRecord], list[Reject]]:
        rejects = [self._reject(u.line, None, None, u.reason, u.text) for u in batch.unreadable]
        received_at = self.clock()
        if self.shape is None:
            records, errors = event_records(
                batch,
                source=self.mapping.source,
                file_name=self.file_name,
                zone=self.zone,
                exported_at=self.exported_at,
                received_at=received_at,
            )
            lines = batch.lines.to_pylist()
            payloads = _payloads(batch, [e.index for e in errors])
            rejects += [
                self._reject(lines[e.index], e.field, None, e.reason, payload)
                for e, payload in zip(errors, payloads, strict=True)
            ]
            return records, _in_file_order(rejects)
        if batch.table.num_rows == 0:
            return [], rejects
        fields = FieldReader(batch.table, self.times)
        frame = read_frame(self.mapping, fields, self.context)
        frame["line"] = batch.lines
        keep = self._sort_problem_rows(batch, fields.problems, rejects)
        rejects = _in_file_order(rejects)
        if keep is not None:
            frame = {name: pc.filter(values, keep) for name, values in frame.items()}
        rows = len(frame["line"])
        if rows == 0:
            return [], rejects
        build = _records_vectorised if self.vectorised else _records_per_row
        return build(self.shape, frame, rows, self.mapping, received_at), rejects

    def _sort_problem_rows(self, batch: RawBatch, problems: list[Problem], rejects: list[Reject]) -> pa.Array | None:
        """Adds a reject for every row with a problem that rejects it (its first one, in mapping order) and a
        warning for every value left missing on the rows kept (``invalid: missing``); the rows to keep."""
        if not problems:
            return None
        rejecting = [p for p in problems if not p.warn]
        masks = [pc.fill_null(p.bad.mask, False) for p in rejecting]
        wrong = masks[0] if masks else None
        for mask in masks[1:]:
            wrong = pc.or_(wrong, mask)
        if wrong is not None:
            indices = pc.indices_nonzero(wrong).to_pylist()
            first: dict[int, tuple[Problem, str]] = {}
            for problem, mask in zip(rejecting, masks, strict=True):
                hits = [i for i in pc.indices_nonzero(mask).to_pylist() if i not in first]
                for i, why in zip(hits, _reasons(batch, problem, hits), strict=True):
                    first[i] = (problem, why)
            lines = pc.take(batch.lines, indices).to_pylist()
            for i, line, payload in zip(indices, lines, _payloads(batch, indices), strict=True):
                problem, why = first[i]
                rejects.append(self._reject(line, problem.key, problem.column, why, payload))
        for problem in problems:
            if not problem.warn:
                continue
            mask = pc.fill_null(problem.bad.mask, False)
            if wrong is not None:
                mask = pc.and_(mask, pc.invert(wrong))
            hits = pc.indices_nonzero(mask).to_pylist()
            if not hits:
                continue
            lines = pc.take(batch.lines, hits).to_pylist()
            for line, why, payload in zip(lines, _reasons(batch, problem, hits), _payloads(batch, hits), strict=True):
                rejects.append(self._reject(line, problem.key, problem.column, why, payload, severity="warning"))
        return None if wrong is None else pc.invert(wrong)

    def _reject(
        self,
        line: int | None,
        key: str | None,
        column: str | None,
        reason: str,
        payload: str,
        severity: Severity = "error",
    ) -> Reject:
        return Reject(
            source=self.mapping.source,
            origin="import",
            reason=reason,
            field=key,
            payload=payload,
            file=self.file_name,
            line=line,
            column=column,
            severity=severity,
        )


def _reasons(batch: RawBatch, problem: Problem, hits: list[int]) -> list[str]:
    """Why each of rows ``hits`` is wrong for ``problem``."""
    if not hits:
        return []
    reason = problem.bad.reason
    if not isinstance(reason, str):
        return [why or "wrong value" for why in pc.take(reason, hits).to_pylist()]
    # One reason for all: say which value it was about (per-row reasons quote it themselves).
    values = (
        pc.take(batch.table.column(problem.column), hits).to_pylist()
        if problem.column in batch.table.column_names
        else [None] * len(hits)
    )
    return [reason if v is None else f"{reason}: {v!r}" for v in values]


def _in_file_order(rejects: list[Reject]) -> list[Reject]:
    return sorted(rejects, key=lambda r: (r.line is None, r.line or 0))


def _payloads(batch: RawBatch, indices: list[int]) -> list[str]:
    """The rejected rows as JSON objects of their original values (to export, fix and import again)."""
    if not indices:
        return []
    if batch.objects is not None:
        rows: list[Any] = [batch.objects[i] for i in indices]
    else:
        rows = batch.table.take(indices).to_pylist()
    return [orjson.dumps(row, default=str).decode() for row in rows]


# --- records ---------------------------------------------------------------------------------------------------
def _records_vectorised(
    shape: Shape, frame: dict[str, pa.Array], rows: int, mapping: Mapping, received_at: dt.datetime
) -> list[LogRecord]:
    """The log records of a batch, their JSON built a column at a time (the same bytes as ``_records_per_row``)."""
    memo: dict[int, Any] = {}
    content = render_json(shape.content, frame, rows, memo)
    keyed = pc.binary_join_element_wise(frame["record_id"], content, SEPARATOR.decode())
    ids = message_ids(mapping.source, mapping.kind, keyed.cast(pa.binary()).to_pylist())
    frame = {**frame, "message_id": pa.array(ids, pa.string())}
    # What accept_message adds after the keys it is given (see domain.messages), in the same order.
    accepted = Obj(
        (
            *shape.message.entries,
            ("receivedAt", Const(format_utc(received_at))),
            ("originalTimestamp", Col("timestamp")),
        )
    )
    bodies = render_json(accepted, frame, rows, memo).cast(pa.binary()).to_pylist()
    received_us = to_micros(received_at)
    stamps = pc.multiply(frame["ts_ms"], 1000).to_pylist()
    source, kind = mapping.source, shape.message_type
    return [
        LogRecord(source, mid, kind, stamp, received_us, body)
        for mid, stamp, body in zip(ids, stamps, bodies, strict=True)
    ]


def _records_per_row(
    shape: Shape, frame: dict[str, pa.Array], rows: int, mapping: Mapping, received_at: dt.datetime
) -> list[LogRecord]:
    """The reference: one dict per row, through ``services.ingest.to_record`` like every other message."""
    contents = [orjson.dumps(content) for content in render_rows(shape.content, frame, rows)]
    record_ids = frame["record_id"].to_pylist()
    ids = [message_id(mapping.source, mapping.kind, rid, text) for rid, text in zip(record_ids, contents, strict=True)]
    frame = {**frame, "message_id": pa.array(ids, pa.string())}
    messages = render_rows(shape.message, frame, rows)
    return [to_record(message, source=mapping.source, received_at=received_at) for message in messages]


# --- appending -------------------------------------------------------------------------------------------------
class _Appender:
    """Hands batches of records to the log's writer, keeping at most ``_IN_FLIGHT`` of them waiting."""

    def __init__(self, log: EventLog, result: ImportResult) -> None:
        self.log = log
        self.result = result
        self._pending: deque[Future[AppendResult]] = deque()

    def append(self, records: list[LogRecord]) -> None:
        if not records:
            return
        while True:
            try:
                self._pending.append(self.log.submit(records))
                break
            except Overloaded:
                # Other appenders fill the queue: wait for our own oldest batch, or a moment.
                if self._pending:
                    self._settle()
                else:
                    time.sleep(0.05)
        while len(self._pending) > _IN_FLIGHT:
            self._settle()

    def _settle(self) -> None:
        done = self._pending.popleft().result()
        # The log drops a messageId it already holds (within its dedupe window), or one seen earlier in the batch.
        self.result.accepted += done.count
        self.result.duplicates += done.duplicates

    def finish(self) -> None:
        while self._pending:
            self._settle()
