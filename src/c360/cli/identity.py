"""`c360 resolve`: the batch identity resolution."""

from __future__ import annotations

import dataclasses

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace
from c360.cli.output import out, print_json, progress_bar

#: The steps `resolve` reports, in order (its progress bar counts them).
RESOLVE_STEPS = 8


def resolve(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Resolve identities over all events: normalise identifiers, build the deterministic identity graph,
    match records that share no identifier, and rebuild the unified profiles (rules from unmerges and review
    decisions are honoured)."""
    from c360.services.identity import resolve as run

    with open_workspace(workspace) as ws, progress_bar("Resolving", total=RESOLVE_STEPS) as bar:
        result = run(ws, progress=bar.step)
        bar.update(RESOLVE_STEPS, RESOLVE_STEPS)
    data = {
        "profiles": result.profiles,
        "identifiers": result.graph.nodes,
        "held_identifiers": result.graph.held,
        "edges": result.graph.edges,
        "merges": result.merges,
        "review_items": result.review_items,
        "rounds": result.graph.rounds,
        "matching": None if result.matching is None else dataclasses.asdict(result.matching),
        "engine": result.engine,
        "seconds": round(result.seconds, 3),
    }
    if as_json:
        print_json(data)
        return
    out.print(
        f"Resolved {result.graph.nodes:,} identifiers into {result.profiles:,} profiles "
        f"in {result.seconds:.1f} s on {result.engine}"
    )
    if result.matching is not None:
        m = result.matching
        out.print(
            f"Matching: {m.records:,} records compared; {m.merged:,} pairs of profiles merged, {m.review:,} for review"
        )
    out.print(
        f"{result.graph.held:,} identifiers held back by the fan-out guard "
        f"({result.review_items:,} new in the review queue); {result.merges:,} merges since the last run"
    )
