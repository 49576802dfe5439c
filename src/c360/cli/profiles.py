"""`c360 profiles get|explain|search|events`: the unified profiles; `c360 export identities`: records -> profiles.

Human output is rich tables with times in the workspace's time zone; `--json` prints what the API answers (UTC).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table

from c360.cli.common import JsonOpt, WorkspaceOpt, open_workspace, output_file
from c360.cli.output import out, print_json
from c360.errors import InvalidInput, NotFound

app = typer.Typer(help="Unified profiles: look one up, search, explain, and its timeline.", no_args_is_help=True)

ProfileArg = Annotated[str, typer.Argument(help="A profile id (one merged into another answers as the survivor).")]


def _local(value: str | None, zone: ZoneInfo) -> str:
    """An ISO UTC time of the services as the workspace's wall-clock time."""
    if not value:
        return ""
    return dt.datetime.fromisoformat(value).astimezone(zone).strftime("%Y-%m-%d %H:%M:%S")


def _short(value: Any, width: int = 80) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _print_profile(profile: dict[str, Any], zone: ZoneInfo) -> None:
    table = Table(title=f"Profile {profile['profile_id']}", show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    if profile.get("merged_from"):
        table.add_row("merged from", profile["merged_from"])
    for label, key in (("name", "name"), ("email", "email"), ("phone", "phone")):
        table.add_row(label, profile.get(key) or "")
    table.add_row("first seen", _local(profile["first_seen_at"], zone))
    table.add_row("updated", _local(profile["updated_at"], zone))
    for name, value in sorted(profile["traits"].items()):
        if name not in ("name", "email", "phone") and value is not None:
            table.add_row(f"trait {name}", _short(value))
    for name, value in sorted((profile.get("computed_traits") or {}).items()):
        table.add_row(f"computed {name}", _short(value))
    if profile.get("segments"):
        table.add_row("segments", ", ".join(profile["segments"]))
    out.print(table)
    _print_identifiers("Identifiers", profile["identifiers"], zone)


def _print_identifiers(title: str, identifiers: list[dict[str, Any]], zone: ZoneInfo) -> None:
    if not identifiers:
        return
    table = Table(title=title, title_justify="left")
    for column in ("type", "value", "source", "first seen", "records", "held"):
        table.add_column(column, justify="right" if column == "records" else "left")
    for item in identifiers:
        table.add_row(
            item["type"],
            item["value"],
            item["source"],
            _local(item["first_seen_at"], zone),
            f"{item['records']:,}",
            item["held_reason"] or "",
        )
    out.print(table)


@app.command("get")
def get(
    profile_id: Annotated[str | None, typer.Argument(help="A profile id; or look one up with an option.")] = None,
    email: Annotated[str | None, typer.Option(help="Find by email (case and Gmail dots do not matter).")] = None,
    phone: Annotated[str | None, typer.Option(help="Find by phone, written any way (0912 345 678).")] = None,
    user_id: Annotated[str | None, typer.Option("--user-id", help="Find by userId.")] = None,
    anonymous_id: Annotated[
        str | None, typer.Option("--anonymous-id", help="Find by anonymousId or an imported `<source>:<id>`.")
    ] = None,
    loyalty_card: Annotated[str | None, typer.Option("--loyalty-card", help="Find by loyalty card.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show a profile: by id, or the profiles holding one identifier (--email, --phone, --user-id, ...)."""
    from c360.services import profiles

    options = {
        "email": email,
        "phone": phone,
        "user_id": user_id,
        "anonymous_id": anonymous_id,
        "loyalty_card": loyalty_card,
    }
    given = {name: value for name, value in options.items() if value is not None}
    if (profile_id is None) == (not given) or len(given) > 1:
        raise InvalidInput(
            "give a profile id or exactly one of --email, --phone, --user-id, --anonymous-id, --loyalty-card"
        )
    with open_workspace(workspace) as ws:
        zone = ws.settings.zone
        if profile_id is not None:
            profile = profiles.get_profile(ws.store, profile_id)
            if as_json:
                print_json(profile)
            else:
                _print_profile(profile, zone)
            return
        found = profiles.lookup(ws.store, ws.settings, **given)
    option = "--" + found["field"].replace("_", "-")
    if not found["profiles"] and not found["held"]:
        raise NotFound(f"no profile has {found['field']} {found['value']!r} ({option})")
    if as_json:
        print_json(found)
        return
    if found["held"]:
        out.print(
            f"{found['field']} {found['value']} is held back from joining profiles: {found['held']}", soft_wrap=True
        )
        if found["profiles"]:
            out.print("Profiles whose records carry it:")
    for profile in found["profiles"]:
        _print_profile(profile, zone)


@app.command("explain")
def explain(profile_id: ProfileArg, workspace: WorkspaceOpt = None, as_json: JsonOpt = False) -> None:
    """Why a profile is what it is: identifiers, the edges that joined them, merges, held values, open review."""
    from c360.services import profiles

    with open_workspace(workspace) as ws:
        data = profiles.identity(ws.store, profile_id)
        zone = ws.settings.zone
    if as_json:
        print_json(data)
        return
    merged = f" (asked for {data['merged_from']}, merged into it)" if data["merged_from"] else ""
    out.print(f"Profile {data['profile_id']} {data['name'] or ''}{merged}", soft_wrap=True)
    _print_identifiers("Identifiers", data["identifiers"], zone)
    if data["edges"]:
        table = Table(title="Edges: why identifiers are together", title_justify="left")
        for column in ("from", "to", "kind", "seen", "message / probability", "evidence"):
            table.add_column(column)
        for edge in data["edges"]:
            why = edge["message_id"] or (f"p={edge['match_probability']:.3f}" if edge["match_probability"] else "")
            table.add_row(
                f"{edge['a']['type']} {edge['a']['value']}",
                f"{edge['b']['type']} {edge['b']['value']}",
                edge["kind"],
                _local(edge["seen_at"], zone),
                why,
                _short(edge["evidence"], 60) if edge["evidence"] is not None else "",
            )
        out.print(table)
    if data["merges"]:
        table = Table(title="Merges", title_justify="left")
        for column in ("when", "survivor", "merged", "run", "evidence"):
            table.add_column(column)
        for merge in data["merges"]:
            table.add_row(
                _local(merge["merged_at"], zone),
                merge["survivor_id"],
                merge["merged_id"],
                merge["run"],
                _short(merge["evidence"], 60),
            )
        out.print(table)
    _print_identifiers("Held identifiers on its records", data["held"], zone)
    if data["review"]:
        table = Table(title="Open review items", title_justify="left")
        for column in ("id", "kind", "about", "profiles", "reason"):
            table.add_column(column)
        for item in data["review"]:
            about = f"{item['id_type']} {item['id_value']}" if item["id_type"] else ""
            pair = " / ".join(p for p in (item["left_profile_id"], item["right_profile_id"]) if p)
            table.add_row(str(item["id"]), item["kind"], about, pair, item["reason"])
        out.print(table)


@app.command("search")
def search(
    q: Annotated[str, typer.Argument(help="A name (diacritics optional, either order), phone digits or email part.")],
    limit: Annotated[int, typer.Option("--limit", "-n", help="At most this many (100 at most).")] = 20,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Find people by name without diacritics, part of a phone number or part of an email."""
    from c360.services import profiles

    with open_workspace(workspace) as ws:
        found = profiles.search(ws.store, q, limit)
    if as_json:
        print_json(found)
        return
    if not found["profiles"]:
        out.print(f"Nobody matches {q!r}")
        return
    table = Table(title=f"Profiles matching {q!r}", title_justify="left")
    for column in ("profile", "name", "email", "phone", "records", ""):
        table.add_column(column, justify="right" if column == "records" else "left")
    for item in found["profiles"]:
        table.add_row(
            item["profile_id"],
            item["name"] or "",
            item["email"] or "",
            item["phone"] or "",
            f"{item['records']:,}",
            "exact" if item["exact"] else "",
        )
    out.print(table)


@app.command("events")
def events(
    profile_id: ProfileArg,
    limit: Annotated[int, typer.Option("--limit", "-n", help="Events per page (500 at most).")] = 50,
    before: Annotated[str | None, typer.Option(help="The cursor printed at the end of the previous page.")] = None,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A profile's timeline, newest first: the lake's events and those not yet compacted."""
    from c360.services import profiles

    with open_workspace(workspace) as ws:
        page = profiles.events(ws, profile_id, limit=limit, before=before)
        zone = ws.settings.zone
    if as_json:
        print_json(page)
        return
    merged = f" (merged from {page['merged_from']})" if page["merged_from"] else ""
    table = Table(title=f"Events of {page['profile_id']}{merged}", title_justify="left")
    for column in ("time", "source", "type", "what"):
        table.add_column(column)
    for event in page["events"]:
        table.add_row(_local(event["timestamp"], zone), event["source"], event["type"], event["summary"])
    out.print(table)
    if page["next"]:
        out.print(f"More: c360 profiles events {page['profile_id']} --before {page['next']}", soft_wrap=True)


def export_identities(
    out_file: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="Write to this .csv file (default: standard output)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="With --out, print a JSON summary.")] = False,
) -> None:
    """Write `source,record_id,profile_id` for every imported record (`crm:C0000001` -> crm, C0000001), userId
    and anonymousId: which profile each record of a source system became."""
    from c360.services.profiles import export_identities as export

    if out_file is not None and out_file.suffix.lower() != ".csv":
        raise InvalidInput("the file must end in .csv", field="--out")
    with open_workspace(workspace) as ws, output_file(out_file) as handle:
        count = export(ws.store, handle)
    if out_file is None:
        return
    if as_json:
        print_json({"identities": count, "out": str(out_file)})
    else:
        out.print(f"Wrote {count:,} identities to {out_file}")


@app.command("unmerge")
def unmerge(
    profile_id: ProfileArg,
    identifier: Annotated[
        list[str],
        typer.Option("--identifier", "-i", help="An identifier to split off, as type:value (repeat the option)."),
    ],
    reason: Annotated[str, typer.Option(help="Why: kept with the never-link rules.")],
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Split identifiers (and what only they join) off a profile, now; later runs, batch and incremental, keep
    them apart."""
    from c360.identity.normalize import Normalizer
    from c360.services import review

    identifiers = [review.parse_identifier(text) for text in identifier]
    with open_workspace(workspace) as ws:
        result = review.unmerge(
            ws.store, profile_id, identifiers, reason=reason, normalizer=Normalizer.from_settings(ws.settings)
        )
    if as_json:
        print_json(result)
        return
    out.print(
        f"Split {profile_id} into {', '.join(result['profiles'])} ({result['rules']} never-link rules)",
        soft_wrap=True,
    )
