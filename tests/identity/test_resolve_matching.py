"""`c360 resolve` with probabilistic matching: two exports of the same people that share no identifier end in
one profile per person, and different people who share a common name do not."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from c360.demo import cached_dataset
from c360.domain.names_vi import strip_diacritics
from c360.services.identity import resolve
from c360.services.ingest import append_messages
from c360.store.schema import identity_edges, identity_nodes
from c360.workspace import Workspace

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def people() -> list[dict[str, str]]:
    folder = cached_dataset(600, 30, 23)
    with (folder / "truth" / "people.csv").open(encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle) if row["birth_date"]][:400]


def export(source: str, people: list[dict[str, str]], *, plain: bool) -> list[dict[str, Any]]:
    """One export's rows: ``plain`` is the sloppy one — no phone or email, names without diacritics, given name
    first for every fifth person."""
    rows = []
    for i, person in enumerate(people):
        name = person["full_name"]
        if plain:
            name = strip_diacritics(name)
            if i % 5 == 0:
                words = name.split()
                name = " ".join([words[-1], *words[:-1]])
        traits: dict[str, Any] = {
            "name": name,
            "birthday": person["birth_date"],
            "address": {"street": person["street"], "state": person["province_code"]},
        }
        if not plain:
            traits |= {"phone": person["phone"], "email": person["email"]}
        rows.append(
            {
                "type": "identify",
                "anonymousId": f"{source}:{i}",
                "messageId": f"{source}-{i}",
                "timestamp": (T0 + dt.timedelta(minutes=i)).isoformat().replace("+00:00", "Z"),
                "traits": traits,
                "context": {"import": {"file": f"{source}.csv", "line": i + 2, "recordId": str(i)}},
            }
        )
    return rows


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace.init(tmp_path / "ws")
    try:
        yield workspace
    finally:
        workspace.close()


def test_matching_joins_two_exports_of_the_same_people(ws: Workspace, people: list[dict[str, str]]) -> None:
    for source, plain in (("crm", False), ("loyalty", True)):
        assert append_messages(ws.log, export(source, people, plain=plain), source=source, replay=True).rejected == 0
    result = resolve(ws)
    assert result.matching is not None
    assert result.matching.records >= 2 * len(people) - 5

    with ws.store.read() as conn:
        profile = {
            r.id_value: r.profile_id
            for r in conn.execute(select(identity_nodes).where(identity_nodes.c.id_type == "external_id"))
        }
        probabilistic = (
            conn.execute(select(identity_edges).where(identity_edges.c.kind == "probabilistic")).mappings().all()
        )
    joined = sum(profile[f"crm:{i}"] == profile[f"loyalty:{i}"] for i in range(len(people)))
    # Precision: no profile holds two people.
    sizes = Counter(profile.values())
    assert max(sizes.values()) <= 2
    wrongly = [
        i
        for i in range(len(people))
        if sizes[profile[f"crm:{i}"]] == 2 and profile[f"crm:{i}"] != profile[f"loyalty:{i}"]
    ]
    assert wrongly == []
    # Recall: nearly every person's two records are one profile, each join an edge with its probability and why.
    assert joined >= 0.9 * len(people), f"{joined} of {len(people)} joined"
    assert len(probabilistic) == joined
    assert all(edge["match_probability"] >= 0.95 for edge in probabilistic)
    assert all('"name"' in edge["evidence"] for edge in probabilistic)
