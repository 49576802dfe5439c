"""A resolve's profile rows are the same whether this process assembles them or worker processes do."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from c360.cli.demo import demo_blocked_values
from c360.demo import cached_dataset
from c360.engines import Engine
from c360.errors import EngineError
from c360.identity.normalize import Normalizer
from c360.identity.profile_assembly import Assembly, AssemblyOptions, _Worker, part_bounds
from c360.services.identity import resolve
from c360.workspace import Workspace
from tests.identity.test_incremental import load


@given(st.lists(st.integers(0, 30), max_size=300).map(sorted), st.integers(1, 40))
def test_parts_cover_every_row_and_never_split_a_profile(ids: list[int], size: int) -> None:
    names = [f"p{i:03d}" for i in ids]
    bounds = part_bounds(names, size)
    assert bounds[0] == 0
    assert bounds[-1] == len(names)
    assert bounds == sorted(set(bounds))
    for cut in bounds[1:-1]:
        assert names[cut] != names[cut - 1]
    # A part ends as soon as it holds `size` rows and its last profile is complete.
    for start, stop in itertools.pairwise(bounds):
        assert stop - start >= size or stop == len(names)
        # Longer only by the rest of the profile that the size cut into.
        assert stop - start <= size or names[stop - 1] == names[start + size - 1]


def test_workers_assemble_the_rows_this_process_does(tmp_path: Path, engine: Engine) -> None:
    # Spark: the deterministic graph only (Splink on Spark takes minutes); the messages come from Spark's Parquet.
    ws = Workspace.init(
        tmp_path / "ws", identity_blocked_values=demo_blocked_values(), identity_matching=engine.name == "duckdb"
    )
    try:
        load(ws, cached_dataset(200, 60, 3), shuffle=None)
        options = AssemblyOptions(
            ("crm", "pos"), Normalizer.from_settings(ws.settings), dt.datetime(2026, 1, 2, tzinfo=dt.UTC)
        )
        resolve(ws, engine=engine)
        (tmp_path / "one").mkdir()
        (tmp_path / "two").mkdir()
        with Assembly(engine, options, workers=0, workdir=tmp_path / "one") as here:
            ours = pa.Table.from_batches(list(here.batches()))
        with Assembly(engine, options, workers=2, workdir=tmp_path / "two", min_messages=0,
                      part_messages=50) as spread:  # fmt: skip
            assert len(list((tmp_path / "two").glob("job-*.pickle"))) == 2
            theirs = pa.Table.from_batches(list(spread.batches()))
            parts = sorted((tmp_path / "two").glob("profiles-*.arrow"))
        assert len(parts) > 4, ours.num_rows
        assert ours.num_rows > 100
        assert theirs.equals(ours)
    finally:
        ws.close()


def test_a_worker_that_fails_is_an_error_that_says_why(tmp_path: Path) -> None:
    worker = _Worker.start(tmp_path / "missing.pickle", tmp_path / "worker.err")
    try:
        with pytest.raises(EngineError, match=r"stopped \(exit code 1\) before part 0: .*missing.pickle"):
            worker.wait_for(0)
    finally:
        worker.stop()
