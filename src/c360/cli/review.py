"""`c360 review`: the identity review queue (held values, borderline matches)."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace
from c360.cli.output import out, print_json

app = typer.Typer(help="The identity review queue: held values and borderline matches.", no_args_is_help=True)

ItemArg = Annotated[int, typer.Argument(help="The review item's id (from `c360 review list`).")]


@app.command("list")
def list_items(
    status: Annotated[str, typer.Option(help="open, accepted, rejected or all.")] = "open",
    kind: Annotated[str | None, typer.Option(help="held_value or match (default both).")] = None,
    limit: Annotated[int, typer.Option(help="At most this many items.")] = 100,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Review items, oldest first."""
    from c360.services.review import list_review

    with open_workspace(workspace) as ws:
        items = list_review(ws.store, status=None if status == "all" else status, kind=kind, limit=limit)
    if as_json:
        print_json(items)
        return
    table = Table("id", "kind", "about", "reason", "status")
    for item in items:
        about = (
            f"{item['id_type']}:{item['id_value']}"
            if item["kind"] == "held_value"
            else f"{item['left_profile_id']} ~ {item['right_profile_id']} ({item['match_probability']:.3f})"
        )
        table.add_row(str(item["id"]), item["kind"], about, item["reason"], item["status"])
    out.print(table)


def _decide(item_id: int, decision: Any, workspace: Any, as_json: bool) -> None:
    from c360.services.review import decide

    with open_workspace(workspace) as ws:
        item = decide(ws.store, item_id, decision, actor="cli")
    if as_json:
        print_json(item)
    else:
        out.print(f"Review item {item_id} {item['status']}; it takes effect from the next `c360 resolve`")


@app.command("accept")
def accept(item_id: ItemArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Accept: a held value joins again; a match merges the two profiles."""
    _decide(item_id, "accept", workspace, as_json)


@app.command("reject")
def reject(item_id: ItemArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Reject: a held value stays held; the two profiles of a match never link."""
    _decide(item_id, "reject", workspace, as_json)
