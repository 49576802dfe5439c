"""`c360 segments ...`: segment definitions, the build that computes traits, RFM and members, and reading them.

A definition FILE is YAML or JSON (``-`` reads standard input); `c360 segments catalog` lists what it may name.
Errors print one line and exit non-zero: 2 for a definition that cannot be used (naming the key, such as
``where.all[1].value``), 5 for an unknown segment or profile. Human output shows times in the workspace's time
zone; ``--json`` prints what the API answers (UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
import yaml
from rich.table import Table
from rich.tree import Tree

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace, output_file
from c360.cli.output import out, print_json, progress_bar
from c360.domain.money import format_money
from c360.errors import InvalidInput, NotFound

app = typer.Typer(
    help="Segments and computed traits: definitions, the build, members, explanations, overlap, RFM.",
    no_args_is_help=True,
)

#: The steps `build` reports, in order (its progress bar counts them).
BUILD_STEPS = 5

NameArg = Annotated[str, typer.Argument(help="The segment's name (see `c360 segments list`).", show_default=False)]
FileArg = Annotated[
    str,
    typer.Argument(help="A definition file, YAML or JSON; `-` reads standard input.", show_default=False),
]
ProfileOpt = Annotated[
    str,
    typer.Option(
        "--profile", help="A profile id (one merged into another answers as the survivor).", show_default=False
    ),
]


class MembersFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


# --- helpers -----------------------------------------------------------------------------------------------------
def read_definition(file: str) -> Any:
    """The definition in ``file`` (``-``: standard input), JSON when it looks like JSON, YAML otherwise."""
    if file == "-":
        text, shown = sys.stdin.read(), "standard input"
    else:
        try:
            text, shown = Path(file).read_text(encoding="utf-8-sig"), file
        except OSError as exc:
            raise InvalidInput(f"cannot read {file}: {exc.strerror}", field="FILE") from None
        except UnicodeDecodeError:
            raise InvalidInput(f"{file} is not UTF-8 text", field="FILE") from None
    if not text.strip():
        raise InvalidInput(f"{shown} is empty: write a definition with `name` and `where`", field="FILE")
    looks_like_json = text.lstrip().startswith(("{", "["))
    if looks_like_json:
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            json_error = exc
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # text in braces that is neither: the JSON error is the likelier help (YAML's flow style is rare)
        reason = f"not valid JSON: {json_error}" if looks_like_json else f"not valid YAML: {exc}"
        raise InvalidInput(f"{shown} is {reason}", field="FILE") from None


def _as_of(value: str | None, zone: ZoneInfo) -> dt.datetime | None:
    """An ISO date or time; one without an offset is the workspace's wall-clock time."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise InvalidInput(
            f"{value!r} is not an ISO date or time (2026-03-01T09:00:00+07:00)", field="--as-of"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed.astimezone(dt.UTC)


def _local(value: str | None, zone: ZoneInfo) -> str:
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M")


def _current_profile(ws: Any, profile_id: str) -> str:
    from c360.services.profiles import current_profile_id

    with ws.store.read() as conn:
        current = current_profile_id(conn, profile_id)
    if current is None:
        raise NotFound(f"no profile {profile_id!r}")
    return current


def _print_segment(data: dict[str, Any], zone: ZoneInfo) -> None:
    table = Table(title=f"Segment {data['name']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("title", data["title"])
    if data["description"]:
        table.add_row("description", data["description"])
    table.add_row("ready-made", "yes (RFM)" if data["ready_made"] else "no")
    table.add_row("members", f"{data['members']:,}")
    if data.get("created_at"):
        table.add_row("created", _local(data["created_at"], zone))
        table.add_row("updated", _local(data["updated_at"], zone))
    out.print(table)
    out.print("Definition:")
    out.print(yaml.safe_dump(data["definition"], allow_unicode=True, sort_keys=False).rstrip(), soft_wrap=True)


def _saved(verb: str, data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
    else:
        out.print(f"{verb} segment {data['name']} ({data['title']}); run `c360 segments build` to compute its members",
                  soft_wrap=True)  # fmt: skip


# --- definitions -------------------------------------------------------------------------------------------------
@app.command("list")
def list_(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Every segment: the ready-made RFM ones and the saved ones, with their members after the last build."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        rows = segments.list_segments(ws)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Segments", title_justify="left")
    for column in ("name", "title", "ready-made", "members"):
        table.add_column(column, justify="right" if column == "members" else "left")
    for row in rows:
        table.add_row(row["name"], row["title"], "RFM" if row["ready_made"] else "", f"{row['members']:,}")
    out.print(table)


@app.command("show")
def show(name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """A segment's definition, title, description and member count."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        data = segments.get(ws, name)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
    else:
        _print_segment(data, zone)


@app.command("create")
def create(file: FileArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Save a new segment from a definition file.

    A definition that cannot be used is refused, naming the key (`where.all[1].value: ...`); nothing is saved.
    """
    from c360.services import segments

    with open_workspace(workspace) as ws:
        saved = segments.save(ws, read_definition(file))
    _saved("Created", saved, as_json)


@app.command("update")
def update(name: NameArg, file: FileArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Replace a saved segment's definition (the file's `name` may be left out; if given it must be NAME)."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        saved = segments.save(ws, read_definition(file), name=name, replace=True)
    _saved("Updated", saved, as_json)


@app.command("delete")
def delete(name: NameArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Delete a saved segment and its membership history (refused while another segment refers to it)."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        segments.delete_segment(ws, name)
    if as_json:
        print_json({"deleted": name})
    else:
        out.print(f"Deleted segment {name}")


@app.command("preview")
def preview(file: FileArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """How many profiles a draft definition holds now, without saving it.

    The draft's `name` may be left out. Computed traits are read from the last build, when there is one.
    """
    from c360.services import segments

    with open_workspace(workspace) as ws:
        result = segments.preview(ws, read_definition(file))
    if as_json:
        print_json(result)
        return
    share = f" ({result['size'] / result['profiles']:.1%})" if result["profiles"] else ""
    out.print(f"The draft holds {result['size']:,} of {result['profiles']:,} profiles{share}")


# --- the build ---------------------------------------------------------------------------------------------------
@app.command("build")
def build(
    as_of: Annotated[
        str | None,
        typer.Option("--as-of", help="Compute as of this ISO time (no offset: workspace time; default now)."),
    ] = None,
    engine: Annotated[str | None, typer.Option(help="duckdb or spark (default: setting `engine`).")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute the computed traits, the RFM scores and every segment's members.

    The log is compacted into the lake first; then all events are read, and who entered and who left each
    segment is recorded. Unchanged data writes nothing but the build's own record. Steps show on stderr; the
    summary table (or --json, the build's figures) on stdout.
    """
    from c360.services import segments

    with open_workspace(workspace, engine=engine) as ws:
        when = _as_of(as_of, ws.settings.zone)
        with progress_bar("Building segments", total=BUILD_STEPS) as bar:
            result = segments.build(ws, as_of=when, progress=bar.step)
            bar.update(BUILD_STEPS, BUILD_STEPS)
        zone = ws.settings.zone
    data = result.as_dict()
    if as_json:
        print_json(data)
        return
    table = Table(title="Segments", title_justify="left")
    for column in ("segment", "members", "entered", "left"):
        table.add_column(column, justify="left" if column == "segment" else "right")
    for name, counts in data["segments"].items():
        table.add_row(name, f"{counts['members']:,}", f"{counts['entered']:,}", f"{counts['exited']:,}")
    out.print(table)
    seconds = sum(data["seconds"].values())
    out.print(
        f"Built {len(data['segments']):,} segments over {data['profiles']:,} profiles as of "
        f"{_local(data['as_of'], zone)} on {data['engine']} in {seconds:.1f} s; "
        f"{data['traits_written']:,} profiles' computed traits changed",
        soft_wrap=True,
    )


# --- members -----------------------------------------------------------------------------------------------------
@app.command("members")
def members(
    name: NameArg,
    fmt: Annotated[
        MembersFormat,
        typer.Option("--format", help="table (a page), json (a page with its `next` cursor) or csv (every member)."),
    ] = MembersFormat.table,
    out_file: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write the csv or json to this file (default: standard output).")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Members per page, 1-1000 (not for csv).")] = 50,
    after: Annotated[
        str | None, typer.Option("--after", help="The `next` cursor of the previous page (not for csv).")
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="The same as --format json.")] = False,
) -> None:
    """A segment's current members, by profile id.

    A page as a table or JSON (with the `next` cursor for --after), or every member as CSV: profile_id, name,
    email, phone, entered_at.
    """
    from c360.services import segments

    if as_json:
        fmt = MembersFormat.json
    if out_file is not None and fmt is MembersFormat.table:
        raise InvalidInput("writes csv or json: add --format csv or --format json", field="--out")
    with open_workspace(workspace) as ws:
        zone = ws.settings.zone
        if fmt is MembersFormat.csv:
            segments.get(ws, name)  # an unknown segment fails here, before a header is written or a file made
            with output_file(out_file) as handle:
                count = segments.write_members_csv(ws, name, handle)
            if out_file is not None:
                out.print(f"Wrote {count:,} members of {name} to {out_file}")
            return
        page = segments.members(ws, name, limit=limit, after=after)
    if fmt is MembersFormat.json:
        if out_file is None:
            print_json(page)
            return
        try:
            out_file.write_text(json.dumps(page, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise InvalidInput(f"cannot write {out_file}: {exc.strerror}", field="--out") from None
        out.print(f"Wrote {len(page['members']):,} members of {name} to {out_file}")
        return
    table = Table(title=f"Members of {name}: {page['total']:,}", title_justify="left")
    for column in ("profile", "name", "email", "phone", "entered"):
        table.add_column(column)
    for row in page["members"]:
        table.add_row(
            row["profile_id"],
            row["name"] or "",
            row["email"] or "",
            row["phone"] or "",
            _local(row["entered_at"], zone),
        )
    out.print(table)
    if page["next"]:
        out.print(f"More: c360 segments members {name} --after {page['next']}", soft_wrap=True)


# --- explanations and reports ------------------------------------------------------------------------------------
def _tree_label(node: dict[str, Any]) -> str:
    mark = "✓ met" if node["met"] else "✗ not met"
    label = f"{mark}: {node['condition']}"
    if "children" not in node and not node["condition"].startswith("in segment "):
        observed = node.get("observed")
        label += f"  (observed: {'no value' if observed is None else observed})"
    return f"{label}  [{node['path']}]"


def _add_nodes(tree: Tree, node: dict[str, Any]) -> None:
    for child in node.get("children", []):
        _add_nodes(tree.add(_tree_label(child)), child)


@app.command("explain")
def explain(name: NameArg, profile: ProfileOpt, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Why a profile is in a segment or not, now: each condition met or not, with the value observed."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        data = segments.explain(ws, name, profile)
    if as_json:
        print_json(data)
        return
    now = "is in" if data["member"] else "is not in"
    before = "a member" if data["member_since_last_build"] else "not a member"
    out.print(f"Profile {data['profile_id']} {now} {name} now ({before} after the last build)", soft_wrap=True)
    tree = Tree(_tree_label(data["explanation"]))
    _add_nodes(tree, data["explanation"])
    out.print(tree)


@app.command("overlap")
def overlap(
    a: Annotated[str, typer.Argument(help="A segment's name.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Another segment's name.", show_default=False)],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How many current members two segments share, and how many are in only one of them."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        data = segments.overlap(ws, a, b)
    if as_json:
        print_json(data)
        return
    table = Table(title=f"{a} and {b}", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("profiles", justify="right")
    for label, key in ((f"in {a}", "a_size"), (f"in {b}", "b_size"), ("in both", "both"),
                       (f"only in {a}", "only_a"), (f"only in {b}", "only_b")):  # fmt: skip
        table.add_row(label, f"{data[key]:,}")
    out.print(table)


@app.command("history")
def history(profile: ProfileOpt, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """A profile's stays in segments, newest first: when it entered each and when it left."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        current = _current_profile(ws, profile)
        rows = segments.history(ws, current)
        zone = ws.settings.zone
    if as_json:
        print_json({"profile_id": current, "history": rows})
        return
    if not rows:
        out.print(f"Profile {current} has not been in any segment")
        return
    table = Table(title=f"Segments of {current}", title_justify="left")
    for column in ("segment", "entered", "left"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["segment"], _local(row["entered_at"], zone), _local(row["exited_at"], zone) or "(member)")
    out.print(table)


@app.command("catalog")
def catalog(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """What a definition may name: profile traits, computed traits, events with their properties, segments."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        data = segments.describe_catalog(ws)
    if as_json:
        print_json(data)
        return
    traits = Table(title="Traits (trait: NAME)", title_justify="left")
    for column in ("trait", "type", "kind"):
        traits.add_column(column)
    for name, kind in data["traits"].items():
        traits.add_row(name, kind, "profile")
    for name, kind in data["computed_traits"].items():
        traits.add_row(name, kind, "computed")
    out.print(traits)
    events = Table(title="Events (event: NAME)", title_justify="left")
    for column in ("event", "properties"):
        events.add_column(column)
    for item in data["events"]:
        events.add_row(item["event"], ", ".join(f"{p} ({t})" for p, t in item["properties"].items()))
    out.print(events)
    out.print(f"Segments (segment: NAME): {', '.join(data['segments']) or 'none'}", soft_wrap=True)


@app.command("rfm")
def rfm(workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """The RFM groups as of the last build: profiles and their spend in each, and the recency x frequency grid."""
    from c360.services import segments

    with open_workspace(workspace) as ws:
        data = segments.rfm_grid(ws)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
        return
    if data["as_of"] is None:
        out.print("No build yet: run `c360 segments build`")
        return
    currency = data["currency"]
    out.print(f"RFM as of {_local(data['as_of'], zone)}: {data['scored']:,} profiles with an order in 365 days")
    groups = Table(title="Groups", title_justify="left")
    for column in ("group", "rule", "profiles", "value"):
        groups.add_column(column, justify="right" if column in ("profiles", "value") else "left")
    for group in data["groups"]:
        groups.add_row(
            group["group"], group["rule"], f"{group['profiles']:,}", format_money(group["monetary"], currency)
        )
    out.print(groups)
    grid = Table(title="Profiles by recency (R) and frequency (F) score", title_justify="left")
    grid.add_column("")
    for f in range(1, 6):
        grid.add_column(f"F{f}", justify="right")
    for r in range(5, 0, -1):
        grid.add_row(f"R{r}", *(f"{count:,}" for count in data["grid"]["counts"][r - 1]))
    out.print(grid)
