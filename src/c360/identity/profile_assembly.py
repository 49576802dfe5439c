"""The last step of a batch resolve: each profile's row (traits by precedence, name, email, phone, search text) from
the messages that say something about the person, in this process or spread over worker processes.

The work is Python's (the same ``Traits`` and ``profile_fields`` as the event processor, so both paths agree) and
costs ~40 µs a profile: at a million records, most of a resolve's writing time on one core. Above
``PARALLEL_MIN_MESSAGES`` the messages are written to Parquet once, cut into parts at profile boundaries, and
worker processes assemble the parts while the resolver writes the graph's nodes and edges; the parts come back in
profile order, as the store's primary key wants them.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import pickle
import subprocess
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pyarrow as pa
import pyarrow.parquet as pq

from c360.domain.identifiers import NameKeys
from c360.engines import Engine
from c360.errors import EngineError
from c360.identity import profiles_sql as ps
from c360.identity.normalize import Normalizer
from c360.identity.profile_fields import Known, profile_fields
from c360.identity.traits import Traits, parse_object, source_rank

#: Below this many messages (of all profiles), starting worker processes (~1 s) costs more than it saves.
PARALLEL_MIN_MESSAGES: Final = 100_000
#: Messages in one part handed to a worker.
PART_MESSAGES: Final = 50_000
#: Rows per batch read from the engine and per Arrow batch given back.
BATCH_ROWS: Final = 20_000

#: The ``identity_profiles`` columns of an assembled row, in this order.
ROW_SCHEMA: Final = pa.schema(
    [
        ("profile_id", pa.string()),
        ("first_seen_at", pa.timestamp("us", "UTC")),
        ("first_message_id", pa.string()),
        ("updated_at", pa.timestamp("us", "UTC")),
        ("name", pa.string()),
        ("email", pa.string()),
        ("phone", pa.string()),
        ("traits", pa.string()),
        ("trait_sources", pa.string()),
        ("search_text", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class AssemblyOptions:
    """What a profile's row depends on besides its messages (picklable: it travels to the workers)."""

    priority: tuple[str, ...]
    normalizer: Normalizer
    now: dt.datetime


def assemble(batches: Iterable[pa.RecordBatch], options: AssemblyOptions) -> Iterator[pa.RecordBatch]:
    """``ROW_SCHEMA`` batches for the profiles of ``batches`` (rows of ``profiles_sql.profile_traits_sql``, ordered
    by profile), a profile's messages possibly spread over consecutive batches."""
    rows: list[tuple[Any, ...]] = []
    for row in _profile_rows(batches, options):
        rows.append(row)
        if len(rows) == BATCH_ROWS:
            yield _batch(rows, options.now)
            rows = []
    if rows:
        yield _batch(rows, options.now)


def bare(batches: Iterable[pa.RecordBatch], options: AssemblyOptions) -> Iterator[pa.RecordBatch]:
    """Rows for the profiles no message says anything about (rows of ``profiles_sql.bare_profiles_sql``)."""
    fields = profile_fields(Traits(), options.normalizer)
    empty = tuple(fields[name] for name in _FIELDS)
    for batch in batches:
        if batch.num_rows:
            micros = batch.column("first_seen_at").cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_pylist()
            ids, first = batch.column("profile_id").to_pylist(), batch.column("first_message_id").to_pylist()
            yield _batch([(*head, *empty) for head in zip(ids, micros, first, strict=True)], options.now)


_FIELDS: Final = ("name", "email", "phone", "traits", "trait_sources", "search_text")


def _batch(rows: list[tuple[Any, ...]], now: dt.datetime) -> pa.RecordBatch:
    ids, micros, first_messages, *fields = zip(*rows, strict=True)
    first_seen = pa.array(micros, pa.int64()).cast(pa.timestamp("us", "UTC"))
    updated = pa.array([now] * len(rows), pa.timestamp("us", "UTC"))
    columns = [pa.array(ids, pa.string()), first_seen, pa.array(first_messages, pa.string()), updated]
    columns += [pa.array(values, pa.string()) for values in fields]
    return pa.record_batch(columns, schema=ROW_SCHEMA)


def _profile_rows(batches: Iterable[pa.RecordBatch], options: AssemblyOptions) -> Iterator[tuple[Any, ...]]:
    """``(profile_id, first_seen_at as µs, first_message_id, *_FIELDS)`` per profile."""
    normalizer = options.normalizer
    current: str | None = None
    head: tuple[str, int, str] = ("", 0, "")
    traits = Traits()
    known = Known()

    def finish() -> tuple[Any, ...]:
        fields = profile_fields(traits, normalizer, known)
        return (*head, *(fields[name] for name in _FIELDS))

    ranks: dict[str, int] = {}
    for batch in batches:
        # Column lists rather than a dict per row, and the instants as µs since the epoch straight from Arrow:
        # this loop runs once per message that carries traits.
        micros = batch.column("ts").cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_pylist()
        columns = [batch.column(name).to_pylist() for name in ("profile_id", "source", "message_id")]
        traits_text, context_text = batch.column("traits").to_pylist(), batch.column("context_traits").to_pylist()
        first_seen = batch.column("first_seen_at").cast(pa.timestamp("us", "UTC")).cast(pa.int64()).to_pylist()
        first_message = batch.column("first_message_id").to_pylist()
        names = [batch.column(name).to_pylist() for name in ("name_raw", "name_key", "name_rev")]
        values = [
            (kind, batch.column(f"{kind}_{side}_raw").to_pylist(), batch.column(f"{kind}_{side}_value").to_pylist())
            for kind in ("email", "phone")
            for side in ("t", "c")
        ]
        for i, (profile_id, source, message_id) in enumerate(zip(*columns, strict=True)):
            if profile_id != current:
                if current is not None:
                    yield finish()
                current = profile_id
                head = (profile_id, first_seen[i], first_message[i])
                traits = Traits()
                known = Known()
            if (rank := ranks.get(source)) is None:
                rank = ranks[source] = source_rank(source, options.priority)
            traits.offer_message(
                parse_object(traits_text[i]),
                parse_object(context_text[i]),
                source_rank=rank,
                ts_us=micros[i],
                message_id=message_id,
            )
            if (raw_name := names[0][i]) is not None:
                spaced = " ".join(unicodedata.normalize("NFC", raw_name).split())
                known.names[spaced] = NameKeys(spaced, names[1][i], names[2][i])
            for kind, raws, normalised in values:
                if (value := normalised[i]) is not None:
                    known.values[kind, raws[i]] = value
    if current is not None:
        yield finish()


# -- spread over processes ------------------------------------------------------------------------------------------


class Assembly:
    """The profile rows of the engine's current graph, started before the resolver writes nodes and edges and read
    after. With ``workers`` and enough messages the workers run meanwhile; otherwise ``batches`` does the
    work in this process when it is read.

    The workers are ``python -m c360.identity.profile_assembly`` children rather than a multiprocessing pool: a
    pool's spawned children import the caller's main module again, which runs a script without a ``__main__``
    guard a second time."""

    def __init__(self, engine: Engine, options: AssemblyOptions, *, workers: int, workdir: Path,
                 min_messages: int = PARALLEL_MIN_MESSAGES, part_messages: int = PART_MESSAGES) -> None:  # fmt: skip
        self.engine = engine
        self.options = options
        self._workdir = workdir
        self._workers: list[_Worker] = []
        self._parts: list[Path] = []
        if workers > 0:
            # Every message of a profile, those without traits too: a bound that costs nothing to count.
            messages = engine.sql(f"SELECT count(*) AS n FROM {ps.MESSAGE_PROFILES}").column(0)[0].as_py()
            if messages >= min_messages:
                self._start(workers, part_messages)

    def _start(self, workers: int, part_messages: int) -> None:
        files = self.engine.to_parquet(ps.profile_traits_sql(), self._workdir / "messages")
        ids = pq.read_table(files, columns=["profile_id"]).column("profile_id").to_pylist()
        parts = list(itertools.pairwise(part_bounds(ids, part_messages)))
        del ids
        self._parts = [self._workdir / f"profiles-{index:05d}.arrow" for index in range(len(parts))]
        count = min(workers, len(parts))
        for number in range(count):
            # Worker n takes parts n, n + count, ...: each finishes its parts in order, so the next line it
            # writes names the next of them.
            mine = [(index, *bounds) for index, bounds in enumerate(parts) if index % count == number]
            job = self._workdir / f"job-{number}.pickle"
            job.write_bytes(pickle.dumps(_Job(files, mine, self._parts, self.options)))
            self._workers.append(_Worker.start(job, self._workdir / f"worker-{number}.err"))

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Every profile's row, in profile order: those with messages, then the bare ones."""
        if not self._workers:
            yield from assemble(self.engine.iter_batches(ps.profile_traits_sql(), batch_rows=BATCH_ROWS), self.options)
        else:
            for index, path in enumerate(self._parts):
                self._workers[index % len(self._workers)].wait_for(index)
                with pa.memory_map(str(path)) as source:
                    yield from pa.ipc.open_file(source).read_all().to_batches(BATCH_ROWS)
        yield from bare(self.engine.iter_batches(ps.bare_profiles_sql(), batch_rows=BATCH_ROWS), self.options)

    def close(self) -> None:
        for worker in self._workers:
            worker.stop()
        self._workers = []

    def __enter__(self) -> Assembly:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class _Job:
    files: list[Path]
    parts: list[tuple[int, int, int]]  # (index, first row, row after the last)
    outputs: list[Path]
    options: AssemblyOptions


#: What a worker writes to stdout when a part is complete (then the part's index); other output is not for us.
_DONE: Final = "c360-part-done "


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[str]
    errors: Path

    @classmethod
    def start(cls, job: Path, errors: Path) -> _Worker:
        # The child imports the c360 this process runs, wherever this process found it.
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        with errors.open("w") as sink:
            process = subprocess.Popen(
                [sys.executable, "-m", "c360.identity.profile_assembly", str(job)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=sink,
                text=True,
                env=env,
            )
        return cls(process, errors)

    def wait_for(self, index: int) -> None:
        """Block until this worker says part ``index`` is written."""
        assert self.process.stdout is not None
        while line := self.process.stdout.readline():
            if line.startswith(_DONE):
                if int(line[len(_DONE) :]) == index:
                    return
                break
        self.process.kill()
        code = self.process.wait()
        detail = self.errors.read_text(errors="replace").strip().splitlines()[-5:]
        raise EngineError(
            f"a profile assembly worker stopped (exit code {code}) before part {index}: " + " | ".join(detail),
            engine="python",
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def main(argv: Sequence[str] | None = None) -> None:
    """A worker: assemble the parts of the job file named on the command line, saying on stdout when each part's
    file is complete."""
    job: _Job = pickle.loads(Path((argv or sys.argv[1:])[0]).read_bytes())
    for index, start, stop in job.parts:
        assemble_part(job.files, start, stop, job.options, job.outputs[index])
        print(f"{_DONE}{index}", flush=True)


def part_bounds(ids: Sequence[str], size: int) -> list[int]:
    """Row positions that cut ``ids`` (grouped: one id's rows are consecutive) into parts of about ``size`` rows,
    never inside one id's rows: 0, the cuts, ``len(ids)`` (just 0 for no ids)."""
    bounds = [0]
    cut = size
    while cut < len(ids):
        while cut < len(ids) and ids[cut] == ids[cut - 1]:
            cut += 1
        if cut < len(ids):
            bounds.append(cut)
        cut += size
    if ids:
        bounds.append(len(ids))
    return bounds


def assemble_part(files: list[Path], start: int, stop: int, options: AssemblyOptions, out: Path) -> Path:
    """In a worker: the profile rows of the messages at ``[start, stop)`` of ``files``, written to ``out`` (Arrow
    IPC) rather than sent back through a pipe."""
    with pa.OSFile(str(out), "wb") as sink, pa.ipc.new_file(sink, ROW_SCHEMA) as writer:
        for batch in assemble(_read_rows(files, start, stop), options):
            writer.write_batch(batch)
    return out


def _read_rows(files: list[Path], start: int, stop: int) -> Iterator[pa.RecordBatch]:
    """The rows at ``[start, stop)`` of the Parquet files read as one table, reading only the row groups that hold
    them."""
    offset = 0
    for path in files:
        parquet = pq.ParquetFile(path)
        for group in range(parquet.metadata.num_row_groups):
            rows = parquet.metadata.row_group(group).num_rows
            first, last = max(start, offset), min(stop, offset + rows)
            if first < last:
                table = parquet.read_row_group(group)
                yield from table.slice(first - offset, last - first).to_batches(BATCH_ROWS)
            offset += rows
            if offset >= stop:
                return


if __name__ == "__main__":
    main()
