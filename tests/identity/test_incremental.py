"""The incremental path (the event processor) reaches the same identity graph as a batch run over all data,
whatever order the messages arrived in — on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import select

from c360.cli.demo import demo_blocked_values
from c360.demo import MAPPINGS_DIR, cached_dataset
from c360.importer import import_file, load_mapping
from c360.services.identity import resolve
from c360.services.ingest import append_messages
from c360.services.processing import processor_for
from c360.store.schema import identity_edges, identity_merges, identity_nodes, identity_profiles
from c360.workspace import Workspace

CUSTOMERS, DAYS, SEED = 500, 120, 11


@pytest.fixture(scope="module")
def demo_dir() -> Path:
    return cached_dataset(CUSTOMERS, DAYS, SEED)


def load(ws: Workspace, data_dir: Path, *, shuffle: int | None) -> None:
    """The demo's events (in the generator's order or shuffled) and then its CSV exports through the importer."""
    events = [orjson.loads(line) for line in (data_dir / "events.jsonl").read_bytes().splitlines()]
    if shuffle is not None:
        random.Random(shuffle).shuffle(events)
    for source in ("web", "app"):
        mine = [e for e in events if _source(e) == source]
        result = append_messages(ws.log, mine, source=source, replay=True)
        assert result.rejected == 0, result.errors
    for mapping_file in sorted(MAPPINGS_DIR.glob("*.yml")):
        import_file(
            data_dir / f"{mapping_file.stem}.csv",
            load_mapping(mapping_file),
            store=ws.store,
            log=ws.log,
            timezone=ws.settings.timezone,
            default_currency=ws.settings.default_currency,
        )


def _source(message: dict[str, Any]) -> str:
    return "app" if message.get("context", {}).get("app") else "web"  # as `c360 demo` splits them


def snapshot(ws: Workspace) -> dict[str, Any]:
    with ws.store.read() as conn:
        nodes = sorted(
            (r.id_type, r.id_value, r.profile_id, r.held_reason, r.records, r.first_message_id, r.source)
            for r in conn.execute(select(identity_nodes))
        )
        edges = sorted(
            (r.a_type, r.a_value, r.b_type, r.b_value, r.message_id, r.live, r.profile_id)
            for r in conn.execute(select(identity_edges))
        )
        profiles = sorted((r.profile_id, r.first_message_id) for r in conn.execute(select(identity_profiles)))
    return {"nodes": nodes, "edges": edges, "profiles": profiles}


@pytest.fixture
def ws(tmp_path: Path, store_url: str) -> Iterator[Workspace]:
    # Probabilistic matching is batch only: compare the deterministic graph, which both paths build.
    workspace = Workspace.init(
        tmp_path / "ws", store_url=store_url, identity_blocked_values=demo_blocked_values(), identity_matching=False
    )
    try:
        yield workspace
    finally:
        workspace.close()


@pytest.mark.parametrize("shuffle", [None, 5], ids=["in-order", "shuffled"])
def test_the_processor_builds_the_graph_a_batch_run_builds(ws: Workspace, demo_dir: Path, shuffle: int | None) -> None:
    load(ws, demo_dir, shuffle=shuffle)
    processor_for(ws).run_until_idle()
    incremental = snapshot(ws)
    with ws.store.read() as conn:
        runs = [r.evidence for r in conn.execute(select(identity_merges.c.evidence))]
    # The data exercises the hard paths: merges (a login joins a device's profile), held values that split a
    # profile (a household phone), and profiles renamed by an older message arriving later.
    assert len(incremental["profiles"]) > CUSTOMERS // 2
    assert sum(1 for node in incremental["nodes"] if node[3] is not None) >= 3
    assert sum(1 for e in runs if '"split"' not in e) >= 10
    assert any('"split"' in e for e in runs)

    resolve(ws)
    batch = snapshot(ws)
    for part in ("nodes", "profiles", "edges"):
        missing = sorted(set(batch[part]) - set(incremental[part]))[:5]
        extra = sorted(set(incremental[part]) - set(batch[part]))[:5]
        assert incremental[part] == batch[part], f"{part}: batch only {missing}; incremental only {extra}"
