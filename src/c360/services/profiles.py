"""The unified profile, read side: one profile, lookups by identifier, search, explain, timeline and export.

Everything here reads what identity resolution (``c360.services.identity``) wrote to the operational store —
``identity_nodes``, ``identity_profiles``, ``identity_edges``, ``identity_merges``, ``identity_review`` — and
answers plain JSON-ready dicts (timestamps ISO 8601 UTC), so the API, the CLI and the dashboard show the same.

- A profile id that a merge absorbed still answers: it resolves to the surviving profile (following chains of
  merges) and the answer names the id asked for in ``merged_from``.
- Lookups compare identifiers in their normalised forms, the way the resolver stores them: ``0912 345 678`` finds
  ``+84912345678``; emails are lower-cased (with Gmail's rules when the workspace has them on).
- Search matches ``identity_profiles.search_text``, whose format ``search_text()`` below defines; the resolver
  writes it with that function.
- The timeline joins the lake (DuckDB over the committed Parquet files) and the events still in the log, each
  event once, newest first, in pages whose cursor is the last event's (timestamp, seq).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import heapq
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO

import orjson
import phonenumbers
import pyarrow as pa
from sqlalchemy import ColumnElement, Connection, Row, and_, bindparam, case, cast, func, literal, or_, select

from c360.domain.identifiers import IdentifierType, NameKeys, is_blocked, name_keys, normalize_email, normalize_phone
from c360.domain.names_vi import fold_name
from c360.domain.timestamps import format_utc, from_micros
from c360.errors import InvalidInput, NotFound
from c360.eventlog import EventLog
from c360.eventlog.schema import events as log_events
from c360.identity.stitch import PROFILE_BY_ID
from c360.lake import EVENT_SCHEMA, Lake
from c360.settings import Settings
from c360.store import Store
from c360.store.prepared import Prepared
from c360.store.schema import (
    identity_edges,
    identity_merges,
    identity_nodes,
    identity_profiles,
    identity_review,
)

if TYPE_CHECKING:
    from c360.workspace import Workspace

__all__ = [
    "MAX_EVENTS_LIMIT",
    "MAX_SEARCH_LIMIT",
    "events",
    "export_identities",
    "get_profile",
    "identity",
    "lookup",
    "search",
    "search_text",
]

MAX_SEARCH_LIMIT: Final = 100
MAX_EVENTS_LIMIT: Final = 500
#: A chain of merges longer than this is a loop written by mistake, not history.
_MAX_CHAIN: Final = 64
_MAX_QUERY_CHARS: Final = 200

#: The identifier types whose values are also the ids events carry (``userId``; ``anonymousId``, where an
#: import's ``<source>:<id>`` is an ``external_id``).
_USER_ID_TYPES: Final = ("user_id",)
_ANONYMOUS_ID_TYPES: Final = ("anonymous_id", "external_id")
_EXPORTED_TYPES: Final = ("external_id", "user_id", "anonymous_id")
_TYPE_ORDER: Final = {t.value: t.priority for t in IdentifierType}

#: The lookup parameters, and the identifier types each one is compared with.
LOOKUP_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "email": ("email",),
    "phone": ("phone",),
    "user_id": ("user_id",),
    "anonymous_id": ("anonymous_id", "external_id"),
    "loyalty_card": ("loyalty_card",),
}


# --- small helpers ---------------------------------------------------------------------------------------------
def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else format_utc(value)


def _parsed(text: str | None) -> Any:
    """JSON text as Python; text that is not JSON stays text (shown rather than lost)."""
    if text is None or text == "":
        return None
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _check_limit(limit: int, maximum: int) -> int:
    if limit < 1:
        raise InvalidInput(f"must be at least 1 (got {limit})", field="limit")
    return min(limit, maximum)


# --- search_text: the format the resolver writes and search() matches ------------------------------------------
_E164 = re.compile(r"\+[1-9]\d{6,14}")


@functools.lru_cache(maxsize=1 << 16)
def _phone_digits(phone: str) -> list[str]:
    """The digits of a phone as people type it: international (`84912345678`) and, where the country dials a
    national prefix, national (`0912345678`).

    Search matches digits anywhere in a word, so a national number without a prefix (Singapore's `91234567`,
    Italy's `0612345678`) is already found inside the international form; only the prefix needs a word of its
    own. Taken from the E.164 text and the country's metadata rather than formatted by phonenumbers, which costs
    ~40 µs a number, once per profile in a resolve.
    """
    e164 = phone if _E164.fullmatch(phone) else normalize_phone(phone)
    if e164 is None:
        digits = re.sub(r"\D", "", phone)
        return [digits] if digits else []
    digits = e164[1:]
    forms = [digits]
    for size in (1, 2, 3):
        prefix = _national_prefix(int(digits[:size]))
        if prefix is not None:
            if prefix and prefix + digits[size:] not in forms:
                forms.append(prefix + digits[size:])
            break
    return forms


@functools.cache
def _national_prefix(country_code: int) -> str | None:
    """The national dialling prefix of a country calling code (`0` for 84); "" when it has none, None when the
    code is not a country's."""
    regions = phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(country_code)
    if not regions:
        return None
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, regions[0])
    return (metadata.national_prefix if metadata is not None else None) or ""


def search_text(name: str | NameKeys | None, emails: Iterable[str], phones: Iterable[str]) -> str:
    """The ``identity_profiles.search_text`` of a profile: lower-case ASCII words separated by single spaces.

    In this order:

    1. the name folded (no diacritics, Đ -> d, lower case: ``nguyen van an``), then the same name in the other
       order (``an nguyen van``; the same words again for a one-word name) — nothing for no name or a
       placeholder (`Khách lẻ`);
    2. each email as given (the resolver's normalised form), lower-cased, once;
    3. each phone's digits, international then national (``84912345678 0912345678``), once.

    ``Nguyễn Văn An``, ``an.nguyen@gmail.com``, ``+84912345678`` ->
    ``nguyen van an an nguyen van an.nguyen@gmail.com 84912345678 0912345678``.
    Search matches words of a query at the start of these words, digits and email parts anywhere, and ranks a
    profile whose text starts with the query's name (in either order) first. ``name`` may be given as its keys
    (``name_keys``), when they are known already.
    """
    parts: list[str] = []
    keys = name if isinstance(name, NameKeys) or name is None else name_keys(name)
    if keys is not None:
        parts += [keys.folded, keys.reversed_folded]
    rest: list[str] = []
    for email in emails:
        word = "".join(unicodedata.normalize("NFC", email).strip().lower().split())
        if word and word not in rest:
            rest.append(word)
    for phone in phones:
        for digits in _phone_digits(phone):
            if digits not in rest:
                rest.append(digits)
    return " ".join(parts + rest)


# --- resolving profile ids -------------------------------------------------------------------------------------
# The reads of every lookup run as prepared statements (c360.store.prepared): SQLAlchemy's execution path costs
# more than SQLite's own work for these primary-key reads, and a lookup answers in about a millisecond.
_SURVIVOR: Final = Prepared(
    select(identity_merges.c.survivor_id)
    .where(identity_merges.c.merged_id == bindparam("merged_id"))
    .order_by(identity_merges.c.merged_at.desc(), identity_merges.c.id.desc())
    .limit(1)
)
# ``:profile_id`` and every profile merged into it, directly or through others, in one recursive query (UNION, not
# UNION ALL: a loop of merges written by mistake ends). The cast gives both terms PostgreSQL's type of the ids.
_FAMILY_SEED: Final = select(cast(bindparam("profile_id"), identity_merges.c.merged_id.type).label("profile_id")).cte(
    "family", recursive=True
)
_FAMILY_ROWS: Final = _FAMILY_SEED.union(
    select(identity_merges.c.merged_id).where(identity_merges.c.survivor_id == _FAMILY_SEED.c.profile_id)
)
_FAMILY_IDS: Final = select(_FAMILY_ROWS.c.profile_id)
_FAMILY: Final = Prepared(_FAMILY_IDS)
_FAMILY_NODES: Final = Prepared(select(identity_nodes).where(identity_nodes.c.profile_id.in_(_FAMILY_IDS)))


def _profile_row(conn: Connection, profile_id: str) -> Any | None:
    return PROFILE_BY_ID.first(conn, {"b_profile_id": profile_id})


def _survivor_of(conn: Connection, merged_id: str) -> str | None:
    survivor: str | None = _SURVIVOR.scalar(conn, {"merged_id": merged_id})
    return survivor


def _resolve(conn: Connection, profile_id: str) -> tuple[Any, str | None]:
    """The profile row that ``profile_id`` is now (following merges), and the id asked for when it was merged
    away. A live profile's row wins over a merge record, so an id revived by an unmerge answers as itself."""
    current = profile_id
    seen = {current}
    for _ in range(_MAX_CHAIN):
        row = _profile_row(conn, current)
        if row is not None:
            return row, (profile_id if current != profile_id else None)
        survivor = _survivor_of(conn, current)
        if survivor is None or survivor in seen:
            break
        seen.add(survivor)
        current = survivor
    raise NotFound(f"no profile {profile_id!r}")


def current_profile_id(conn: Connection, profile_id: str) -> str | None:
    """The live profile ``profile_id`` is now (following merges); None when it never was one."""
    try:
        row, _ = _resolve(conn, profile_id)
    except NotFound:
        return None
    return str(row.profile_id)


def _resolve_many(conn: Connection, profile_ids: Iterable[str]) -> list[Any]:
    """The live profiles of ``profile_ids`` (merged ids resolved, unknown ones left out), each once, in order."""
    rows: dict[str, Any] = {}
    for profile_id in profile_ids:
        try:
            row, _ = _resolve(conn, profile_id)
        except NotFound:
            continue
        rows.setdefault(row.profile_id, row)
    return list(rows.values())


def _family(conn: Connection, profile_id: str) -> list[str]:
    """``profile_id`` and every profile merged into it, directly or through others (in no particular order)."""
    return [row[0] for row in _FAMILY.rows(conn, {"profile_id": profile_id})]


# --- profiles --------------------------------------------------------------------------------------------------
def _identifier(row: Any) -> dict[str, Any]:
    return {
        "type": row.id_type,
        "value": row.id_value,
        "source": row.source,
        "first_seen_at": _iso(row.first_seen_at),
        "first_message_id": row.first_message_id,
        "records": int(row.records),
        "held": row.held_reason is not None,
        "held_reason": row.held_reason,
    }


def _identifier_order(item: Mapping[str, Any]) -> tuple[int, str]:
    return _TYPE_ORDER.get(item["type"], len(_TYPE_ORDER)), item["value"]


def _identifiers(conn: Connection, profile_id: str) -> list[dict[str, Any]]:
    """The identifiers of ``profile_id`` and of the profiles merged into it, should a node still name one."""
    rows = _FAMILY_NODES.rows(conn, {"profile_id": profile_id})
    return sorted((_identifier(row) for row in rows), key=_identifier_order)


def _profile_dict(conn: Connection, row: Any, merged_from: str | None) -> dict[str, Any]:
    from c360.services.segments import profile_view  # here: it imports the batch engines (~0.5 s)

    traits = _parsed(row.traits)
    return {
        "profile_id": row.profile_id,
        "merged_from": merged_from,
        "name": row.name,
        "email": row.email,
        "phone": row.phone,
        "first_seen_at": _iso(row.first_seen_at),
        "first_message_id": row.first_message_id,
        "updated_at": _iso(row.updated_at),
        "traits": traits if traits is not None else {},
        "identifiers": _identifiers(conn, row.profile_id),
        # computed_traits, computed_at (null before the first build) and the segments it is in now
        **profile_view(conn, row.profile_id),
    }


def get_profile(store: Store, profile_id: str) -> dict[str, Any]:
    """The profile with its identifiers and traits; a merged-away id answers with its survivor and says so in
    ``merged_from``. NotFound for an id that never was a profile."""
    with store.read() as conn:
        row, merged_from = _resolve(conn, profile_id)
        return _profile_dict(conn, row, merged_from)


# --- lookup ----------------------------------------------------------------------------------------------------
#: The node of one identifier with its profile's row, when that profile is live (``profile_id`` is null when the
#: node names a profile that a merge absorbed, which it does until the resolver rewrites it).
_NODE_AND_PROFILE: Final = Prepared(
    select(
        identity_nodes.c.profile_id.label("node_profile_id"),
        identity_nodes.c.held_reason.label("node_held_reason"),
        identity_profiles,
    )
    .select_from(
        identity_nodes.outerjoin(identity_profiles, identity_profiles.c.profile_id == identity_nodes.c.profile_id)
    )
    .where((identity_nodes.c.id_type == bindparam("id_type")) & (identity_nodes.c.id_value == bindparam("id_value")))
)


@lru_cache(maxsize=16)
def _blocked_forms(extra: tuple[str, ...]) -> frozenset[str]:
    """The workspace's blocked values as written (lower case), and as emails and phones normalised."""
    forms: set[str] = set()
    for value in extra:
        forms.add(value.strip().lower())
        for normalised in (normalize_email(value), normalize_email(value, gmail_rules=True), normalize_phone(value)):
            if normalised:
                forms.add(normalised)
    return frozenset(forms)


def normalised_identifier(field: str, value: str, settings: Settings) -> str:
    """``value`` of lookup parameter ``field`` in the form the resolver stores; InvalidInput naming the field."""
    blocked = _blocked_forms(tuple(settings.identity_blocked_values))
    shown = value if len(value) <= 60 else value[:57] + "..."
    if field == "email":
        normalised = normalize_email(value, gmail_rules=settings.identity_gmail_rules)
        if normalised is None:
            raise InvalidInput(f"{shown!r} is not an email address", field=field)
    elif field == "phone":
        normalised = normalize_phone(value)
        if normalised is None:
            raise InvalidInput(f"{shown!r} is not a valid phone number", field=field)
    else:
        normalised = unicodedata.normalize("NFC", value).strip()
        if len(normalised) > 500:
            raise InvalidInput("is longer than 500 characters", field=field)
    if is_blocked(value, blocked) or normalised in blocked or is_blocked(normalised):
        raise InvalidInput(f"{shown!r} is a blocked value, which never identifies anyone", field=field)
    return normalised


def lookup(
    store: Store,
    settings: Settings,
    *,
    email: str | None = None,
    phone: str | None = None,
    user_id: str | None = None,
    anonymous_id: str | None = None,
    loyalty_card: str | None = None,
) -> dict[str, Any]:
    """The profiles that hold the identifier given (exactly one parameter), compared after normalisation.

    Answers ``{"field", "value" (normalised), "profiles": [profile, ...], "held": None | reason}``. An identifier
    the fan-out guard holds back belongs to no profile: ``held`` says why, and ``profiles`` lists those whose
    records carry it (the profiles of the identifiers it came with, by the edges kept to explain it, and those
    a review item about it names). Primary-key reads: one per identifier type compared, then the profile and its
    identifiers by index (the node and its live profile in one); only a held value also looks through the edges
    and only a node of a merged-away profile follows the merges.
    """
    given = {
        name: value
        for name, value in (
            ("email", email),
            ("phone", phone),
            ("user_id", user_id),
            ("anonymous_id", anonymous_id),
            ("loyalty_card", loyalty_card),
        )
        if value is not None
    }
    if len(given) != 1:
        got = "none" if not given else " and ".join(sorted(given))
        raise InvalidInput(f"give exactly one of {', '.join(LOOKUP_FIELDS)} (got {got})")
    ((field, raw),) = given.items()
    value = normalised_identifier(field, raw, settings)
    profiles: list[dict[str, Any]] = []
    held: str | None = None
    with store.read() as conn:
        for id_type in LOOKUP_FIELDS[field]:
            node = _NODE_AND_PROFILE.first(conn, {"id_type": id_type, "id_value": value})
            if node is None:
                continue
            candidates = [node.node_profile_id] if node.node_profile_id else []
            if node.node_held_reason is not None:
                held = node.node_held_reason
                candidates += _profiles_carrying(conn, id_type, value)
            if candidates == [node.profile_id]:  # the node's own profile, live: its row came with the node
                rows = [node]
            else:  # a profile merged away, or a held value's several: through the merges
                rows = _resolve_many(conn, candidates)
            for row in rows:
                if all(p["profile_id"] != row.profile_id for p in profiles):
                    merged_from = node.node_profile_id if node.node_profile_id not in (None, row.profile_id) else None
                    profiles.append(_profile_dict(conn, row, merged_from))
    return {"field": field, "value": value, "profiles": profiles, "held": held}


def _profiles_carrying(conn: Connection, id_type: str, id_value: str) -> list[str]:
    """Profiles whose records carry a held identifier: those of the identifiers it came with (the edges kept,
    not live, to explain it), then those a review item about it names; oldest edge first."""
    edges = identity_edges.c
    touching = ((edges.a_type == id_type) & (edges.a_value == id_value)) | (
        (edges.b_type == id_type) & (edges.b_value == id_value)
    )
    found: list[str] = []
    for (profile_id,) in conn.execute(
        select(edges.profile_id)
        .where(touching & edges.profile_id.is_not(None))
        .order_by(edges.seen_at, edges.a_type, edges.a_value, edges.b_type, edges.b_value)
    ):
        if profile_id not in found:
            found.append(profile_id)
    review = conn.execute(
        select(identity_review.c.left_profile_id, identity_review.c.right_profile_id)
        .where((identity_review.c.id_type == id_type) & (identity_review.c.id_value == id_value))
        .order_by(identity_review.c.id)
    )
    for left, right in review:
        found += [p for p in (left, right) if p and p not in found]
    return found


# --- search ----------------------------------------------------------------------------------------------------
_PHONE_QUERY: Final = re.compile(r"^\+?[\d\s().\-]+$")
_SUBSTRING_CHARS: Final = frozenset("@._-+0123456789")


@dataclass(frozen=True, slots=True)
class _SearchPlan:
    words: tuple[str, ...]  # each starts a word of search_text
    parts: tuple[str, ...]  # each appears anywhere in search_text
    exact_prefixes: tuple[str, ...]  # search_text equal to one, or starting with one and a space: an exact name
    exact_tokens: tuple[str, ...]  # a whole word of search_text equal to one: an exact phone or email


def _search_plan(q: str) -> _SearchPlan:
    text = " ".join(unicodedata.normalize("NFC", q).split())
    if not text:
        raise InvalidInput("give a name, part of a phone number or part of an email", field="q")
    if len(text) > _MAX_QUERY_CHARS:
        raise InvalidInput(f"is longer than {_MAX_QUERY_CHARS} characters", field="q")
    if _PHONE_QUERY.match(text) and sum(c.isdigit() for c in text) >= 3:
        digits = re.sub(r"\D", "", text)
        return _SearchPlan((), (digits,), (), (digits,))
    words = fold_name(text).split()
    prefixes = tuple(w for w in words if not (_SUBSTRING_CHARS & set(w)))
    parts = tuple(w for w in words if _SUBSTRING_CHARS & set(w))
    exact_prefixes: tuple[str, ...] = ()
    if prefixes and not parts:
        keys = " ".join(prefixes)
        given_last = " ".join([*prefixes[1:], prefixes[0]])  # the query read as given-name-first
        given_first = " ".join([prefixes[-1], *prefixes[:-1]])
        exact_prefixes = (f"{keys} {given_first}", f"{given_last} {keys}")
    return _SearchPlan(prefixes, parts, exact_prefixes, parts)


def _holds(dialect: str, text: ColumnElement[str], part: str) -> ColumnElement[bool]:
    """``part`` occurs in ``text``: a plain substring search (no wildcards to escape), twice as fast as LIKE on a
    scan of every profile. The one per-database difference of this module."""
    if dialect == "sqlite":
        return func.instr(text, part) > 0
    if dialect == "postgresql":
        return func.strpos(text, part) > 0
    return text.contains(part, autoescape=True)


def search(store: Store, q: str, limit: int = 20) -> dict[str, Any]:
    """People by name without diacritics (either order), part of a phone or part of an email.

    Ranking: an exact name (or a whole phone / email) first, then shorter names, then the profiles with the
    most records. ``limit`` is capped at 100. Answers ``{"q", "profiles": [{profile_id, name, email, phone,
    records, exact}, ...]}``.
    """
    limit = _check_limit(limit, MAX_SEARCH_LIMIT)
    plan = _search_plan(q)
    text = identity_profiles.c.search_text
    spaced = literal(" ") + text
    conditions = [_holds(store.dialect, spaced, " " + word) for word in plan.words]
    conditions += [_holds(store.dialect, text, part) for part in plan.parts]
    exact_if = [text == prefix for prefix in plan.exact_prefixes]
    exact_if += [text.startswith(prefix + " ", autoescape=True) for prefix in plan.exact_prefixes]
    exact_if += [(spaced + literal(" ")).contains(f" {token} ", autoescape=True) for token in plan.exact_tokens]
    exact = case((or_(*exact_if), 0), else_=1) if exact_if else literal(1)
    records = (
        select(func.coalesce(func.sum(identity_nodes.c.records), 0))
        .where(identity_nodes.c.profile_id == identity_profiles.c.profile_id)
        .scalar_subquery()
    )
    name_length = func.coalesce(func.length(identity_profiles.c.name), 1_000_000)
    query = (
        select(
            identity_profiles.c.profile_id,
            identity_profiles.c.name,
            identity_profiles.c.email,
            identity_profiles.c.phone,
            exact.label("rank"),
            records.label("records"),
        )
        .where(and_(*conditions))
        .order_by(exact, name_length, records.desc(), identity_profiles.c.profile_id)
        .limit(limit)
    )
    with store.read() as conn:
        rows = conn.execute(query).all()
    return {
        "q": q,
        "profiles": [
            {
                "profile_id": row.profile_id,
                "name": row.name,
                "email": row.email,
                "phone": row.phone,
                "records": int(row.records),
                "exact": row.rank == 0,
            }
            for row in rows
        ],
    }


# --- explain ---------------------------------------------------------------------------------------------------
def identity(store: Store, profile_id: str) -> dict[str, Any]:
    """Why the profile is what it is: its identifiers, the edges that joined them (with evidence; ``live`` false
    for the pairs kept only to explain a held value), the merges into it (directly or through profiles merged into
    it), the held identifiers its records carry and the open review items that touch it or those values."""
    with store.read() as conn:
        row, merged_from = _resolve(conn, profile_id)
        family = _family(conn, row.profile_id)
        edges = conn.execute(
            select(identity_edges)
            .where(identity_edges.c.profile_id.in_(family))
            .order_by(identity_edges.c.seen_at, identity_edges.c.a_type, identity_edges.c.a_value)
        ).all()
        merges = conn.execute(
            select(identity_merges)
            .where(identity_merges.c.survivor_id.in_(family))
            .order_by(identity_merges.c.merged_at, identity_merges.c.id)
        ).all()
        held = _held_on(conn, family)
        held_review = [item["id"] for h in held for item in h["review"]]
        review = conn.execute(
            select(identity_review)
            .where(
                (identity_review.c.status == "open")
                & (
                    identity_review.c.left_profile_id.in_(family)
                    | identity_review.c.right_profile_id.in_(family)
                    | identity_review.c.id.in_(held_review)
                )
            )
            .order_by(identity_review.c.id)
        ).all()
        identifiers = _identifiers(conn, row.profile_id)
    return {
        "profile_id": row.profile_id,
        "merged_from": merged_from,
        "name": row.name,
        "identifiers": identifiers,
        "edges": [
            {
                "a": {"type": e.a_type, "value": e.a_value},
                "b": {"type": e.b_type, "value": e.b_value},
                "kind": e.kind,
                "live": bool(e.live),
                "source": e.source,
                "message_id": e.message_id,
                "seen_at": _iso(e.seen_at),
                "match_probability": e.match_probability,
                "evidence": _parsed(e.evidence),
            }
            for e in edges
        ],
        "merges": [
            {
                "survivor_id": m.survivor_id,
                "merged_id": m.merged_id,
                "run": m.run,
                "merged_at": _iso(m.merged_at),
                "evidence": _parsed(m.evidence),
            }
            for m in merges
        ],
        "held": held,
        "review": [_review_item(r) for r in review],
    }


def _held_on(conn: Connection, family: Sequence[str]) -> list[dict[str, Any]]:
    """Held identifiers on the profile's records: the held ends of its edges that are not live, and the held
    values of review items that name it; each with the review items about it."""
    nodes, edges, review = identity_nodes.c, identity_edges.c, identity_review.c
    keys: set[tuple[str, str]] = set()
    for a_type, a_value, b_type, b_value in conn.execute(
        select(edges.a_type, edges.a_value, edges.b_type, edges.b_value).where(
            edges.profile_id.in_(family) & edges.live.is_(False)
        )
    ):
        keys |= {(a_type, a_value), (b_type, b_value)}
    keys |= set(
        conn.execute(
            select(review.id_type, review.id_value).where(
                review.id_type.is_not(None) & (review.left_profile_id.in_(family) | review.right_profile_id.in_(family))
            )
        ).all()
    )
    found = []
    for id_type, id_value in sorted(keys):
        node = conn.execute(
            select(identity_nodes).where(
                (nodes.id_type == id_type) & (nodes.id_value == id_value) & nodes.held_reason.is_not(None)
            )
        ).first()
        if node is None:
            continue
        items = conn.execute(
            select(review.id, review.status)
            .where((review.id_type == id_type) & (review.id_value == id_value))
            .order_by(review.id)
        )
        found.append({**_identifier(node), "review": [{"id": i, "status": status} for i, status in items]})
    return sorted(found, key=_identifier_order)


def _review_item(row: Row[Any]) -> dict[str, Any]:
    return {
        "id": row.id,
        "kind": row.kind,
        "id_type": row.id_type,
        "id_value": row.id_value,
        "left_profile_id": row.left_profile_id,
        "right_profile_id": row.right_profile_id,
        "match_probability": row.match_probability,
        "reason": row.reason,
        "evidence": _parsed(row.evidence),
        "status": row.status,
        "created_at": _iso(row.created_at),
    }


# --- timeline --------------------------------------------------------------------------------------------------
#: The lake's events of one profile below a cursor, newest first. ``profile_user_ids`` and
#: ``profile_anonymous_ids`` are one-column tables registered for the query.
TIMELINE_SQL: Final = """
SELECT seq, message_id, source, type, event, name, user_id, anonymous_id, group_id, previous_id,
       c360_epoch_us("timestamp") AS timestamp_us, properties, traits
FROM events
WHERE (user_id IN (SELECT id FROM profile_user_ids) OR anonymous_id IN (SELECT id FROM profile_anonymous_ids))
  AND (c360_epoch_us("timestamp") < $before_us OR (c360_epoch_us("timestamp") = $before_us AND seq < $before_seq))
ORDER BY "timestamp" DESC, seq DESC
LIMIT $rows
"""

_FAR_FUTURE_US: Final = 2**62
_ORDER_EVENTS: Final = frozenset({"Order Completed", "Order Refunded", "Order Cancelled", "Order Updated"})


@dataclass(frozen=True, slots=True)
class _Event:
    seq: int
    timestamp_us: int
    message_id: str
    source: str
    type: str
    event: str | None
    name: str | None
    user_id: str | None
    anonymous_id: str | None
    group_id: str | None
    previous_id: str | None
    properties: Any
    traits: Any

    @property
    def key(self) -> tuple[int, int]:
        return self.timestamp_us, self.seq


def _cursor(before: str | None) -> tuple[int, int]:
    """(timestamp_us, seq) of an opaque cursor ``<timestamp_us>_<seq>``; the far future for none."""
    if before is None or before == "":
        return _FAR_FUTURE_US, 0
    timestamp, sep, seq = before.rpartition("_")
    try:
        if not sep:
            raise ValueError
        return int(timestamp), int(seq)
    except ValueError:
        raise InvalidInput(f"{before[:60]!r} is not a cursor from a previous page's `next`", field="before") from None


def _event_ids(conn: Connection, family: Sequence[str]) -> tuple[list[str], list[str]]:
    rows = conn.execute(
        select(identity_nodes.c.id_type, identity_nodes.c.id_value).where(
            identity_nodes.c.profile_id.in_(family) & identity_nodes.c.id_type.in_(_USER_ID_TYPES + _ANONYMOUS_ID_TYPES)
        )
    )
    user_ids: list[str] = []
    anonymous_ids: list[str] = []
    for id_type, id_value in rows:
        (user_ids if id_type in _USER_ID_TYPES else anonymous_ids).append(id_value)
    return sorted(user_ids), sorted(anonymous_ids)


def _text(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def _from_log(
    log: EventLog,
    after_seq: int,
    user_ids: Sequence[str],
    anonymous_ids: Sequence[str],
    cursor: tuple[int, int],
    n: int,
) -> list[_Event]:
    """The newest ``n`` events of the log above ``after_seq`` that carry the ids, below the cursor."""
    wanted_users, wanted_anonymous = set(user_ids), set(anonymous_ids)
    # A body that does not hold one of the ids as a JSON string cannot match: most are skipped unparsed.
    needles = [orjson.dumps(value) for value in (*wanted_users, *wanted_anonymous)]
    before_us, before_seq = cursor
    query = select(
        log_events.c.seq, log_events.c.source, log_events.c.message_id, log_events.c.timestamp_us, log_events.c.body
    ).where(
        (log_events.c.seq > after_seq)
        & (
            (log_events.c.timestamp_us < before_us)
            | ((log_events.c.timestamp_us == before_us) & (log_events.c.seq < before_seq))
        )
    )
    heap: list[tuple[int, int, _Event]] = []  # the newest n so far, oldest on top; (timestamp, seq) is unique
    if not needles:
        return []
    with log.db.read() as conn:
        for seq, source, message_id, timestamp_us, body in conn.execute(query.execution_options(yield_per=2_000)):
            if not any(needle in body for needle in needles):
                continue
            message = orjson.loads(body)
            user_id, anonymous_id = _text(message.get("userId")), _text(message.get("anonymousId"))
            if user_id not in wanted_users and anonymous_id not in wanted_anonymous:
                continue
            traits = message.get("traits")
            context = message.get("context")
            if traits is None and isinstance(context, dict):
                traits = context.get("traits")  # where the RudderStack SDK puts identify traits
            event = _Event(
                seq=int(seq),
                timestamp_us=int(timestamp_us),
                message_id=str(message_id),
                source=str(source),
                type=str(message.get("type")),
                event=_text(message.get("event")),
                name=_text(message.get("name")),
                user_id=user_id,
                anonymous_id=anonymous_id,
                group_id=_text(message.get("groupId")),
                previous_id=_text(message.get("previousId")),
                properties=message.get("properties"),
                traits=traits,
            )
            if len(heap) < n:
                heapq.heappush(heap, (event.timestamp_us, event.seq, event))
            else:
                heapq.heappushpop(heap, (event.timestamp_us, event.seq, event))
    return [event for _ts, _seq, event in heap]


def _lake_files(lake: Lake, before_us: int) -> list[Path]:
    """The committed files that can hold events before the cursor (a file's folder is its events' UTC date)."""
    files = lake.committed_files()
    if before_us >= _FAR_FUTURE_US:
        return files
    last_day = from_micros(before_us).date().isoformat()
    return [path for path in files if path.parent.name.removeprefix("date=") <= last_day]


def _from_lake(
    settings: Settings,
    files: list[Path],
    user_ids: Sequence[str],
    anonymous_ids: Sequence[str],
    cursor: tuple[int, int],
    n: int,
) -> list[_Event]:
    if not files or not (user_ids or anonymous_ids):
        return []
    from c360.engines import open_engine

    # DuckDB whatever the workspace's batch engine: this is one person's events, read while someone waits.
    engine = open_engine("duckdb", threads=settings.duckdb_threads, memory_limit=settings.duckdb_memory_limit)
    try:
        engine.register_parquet("events", files, EVENT_SCHEMA)
        engine.register_arrow("profile_user_ids", pa.table({"id": pa.array(user_ids, pa.string())}))
        engine.register_arrow("profile_anonymous_ids", pa.table({"id": pa.array(anonymous_ids, pa.string())}))
        before_us, before_seq = cursor
        table = engine.sql(
            TIMELINE_SQL, params={"before_us": before_us, "before_seq": before_seq, "rows": n}, max_rows=n
        )
    finally:
        engine.close()
    return [
        _Event(
            seq=int(row["seq"]),
            timestamp_us=int(row["timestamp_us"]),
            message_id=row["message_id"],
            source=row["source"],
            type=row["type"],
            event=row["event"],
            name=row["name"],
            user_id=row["user_id"],
            anonymous_id=row["anonymous_id"],
            group_id=row["group_id"],
            previous_id=row["previous_id"],
            properties=_parsed(row["properties"]),
            traits=_parsed(row["traits"]),
        )
        for row in table.to_pylist()
    ]


def _amount(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return str(value)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def summary(event: Mapping[str, Any]) -> str:
    """One line that says what happened: `Order Completed A1: 1,250,000 VND`, `Viewed page Home`, ..."""
    kind = event.get("type")
    props = _mapping(event.get("properties"))
    if kind == "track":
        name = event.get("event") or "(unnamed event)"
        if name in _ORDER_EVENTS:
            order = f" {props['order_id']}" if props.get("order_id") else ""
            total = next((props[key] for key in ("total", "revenue", "value") if props.get(key) is not None), None)
            amount = _amount(total)
            currency = f" {props['currency']}" if props.get("currency") else ""
            return f"{name}{order}: {amount}{currency}" if amount else f"{name}{order}"
        for key in ("name", "title", "product_name", "email_subject", "campaign_name", "product_id", "sku", "url"):
            if props.get(key):
                return f"{name}: {props[key]}"
        if props.get("nps") is not None:
            return f"{name}: NPS {props['nps']}"
        return str(name)
    if kind in ("page", "screen"):
        shown = event.get("name") or props.get("title") or props.get("path") or props.get("url") or ""
        return f"Viewed {kind} {shown}".rstrip()
    if kind == "identify":
        keys = sorted(_mapping(event.get("traits")))
        shown = ", ".join(keys[:5]) + (f" and {len(keys) - 5} more" if len(keys) > 5 else "")
        return f"Identified: {shown}" if keys else "Identified"
    if kind == "group":
        return f"Joined group {event.get('group_id') or ''}".rstrip()
    if kind == "alias":
        return f"Alias of {event.get('previous_id') or ''}".rstrip()
    return str(kind)


def _event_dict(event: _Event) -> dict[str, Any]:
    item = {
        "message_id": event.message_id,
        "type": event.type,
        "event": event.event,
        "name": event.name,
        "source": event.source,
        "timestamp": format_utc(from_micros(event.timestamp_us)),
        "user_id": event.user_id,
        "anonymous_id": event.anonymous_id,
        "group_id": event.group_id,
        "previous_id": event.previous_id,
        "properties": event.properties if event.properties is not None else {},
        "traits": event.traits,
    }
    item["summary"] = summary(item)
    return item


def events(workspace: Workspace, profile_id: str, limit: int = 50, before: str | None = None) -> dict[str, Any]:
    """The profile's timeline, newest first: ``{"profile_id", "merged_from", "events": [...], "next"}``.

    A profile's events are those whose userId is one of its user ids or whose anonymousId is one of its
    anonymous or external ids (a merged profile's included). They come from the lake's committed files and from
    the log's events not yet compacted; an event in both (compacted meanwhile) is listed once. ``next`` is the
    cursor of the following page (pass it as ``before``), or None on the last page. ``limit`` is capped at 500.
    """
    limit = _check_limit(limit, MAX_EVENTS_LIMIT)
    cursor = _cursor(before)
    with workspace.store.read() as conn:
        row, merged_from = _resolve(conn, profile_id)
        user_ids, anonymous_ids = _event_ids(conn, _family(conn, row.profile_id))
    # The log first, from the lake's watermark up; then the lake's files, whose watermark can only have moved up
    # since. An event compacted in between is in both and is kept once (by seq); none can be in neither, since
    # the log keeps every event until the lake has it.
    watermark = workspace.lake.watermark()
    from_log = _from_log(workspace.log, watermark, user_ids, anonymous_ids, cursor, limit + 1)
    files = _lake_files(workspace.lake, cursor[0])
    from_lake = _from_lake(workspace.settings, files, user_ids, anonymous_ids, cursor, limit + 1)
    merged = {event.seq: event for event in (*from_lake, *from_log)}
    page = sorted(merged.values(), key=lambda e: e.key, reverse=True)
    more = len(page) > limit
    page = page[:limit]
    return {
        "profile_id": row.profile_id,
        "merged_from": merged_from,
        "events": [_event_dict(event) for event in page],
        "next": f"{page[-1].timestamp_us}_{page[-1].seq}" if more else None,
    }


# --- export ----------------------------------------------------------------------------------------------------
EXPORT_COLUMNS: Final = ("source", "record_id", "profile_id")


def _export_rows(conn: Connection, survivors: Mapping[str, str]) -> Iterator[tuple[str, str, str]]:
    query = (
        select(
            identity_nodes.c.id_type, identity_nodes.c.id_value, identity_nodes.c.source, identity_nodes.c.profile_id
        )
        .where(identity_nodes.c.id_type.in_(_EXPORTED_TYPES))
        .order_by(identity_nodes.c.id_type, identity_nodes.c.id_value)
    )
    for id_type, id_value, source, profile_id in conn.execute(query.execution_options(yield_per=5_000)):
        if id_type == "external_id" and ":" in id_value:
            source, _, record_id = id_value.partition(":")
        else:
            record_id = id_value
        yield source, record_id, _final(survivors, profile_id) if profile_id else ""


def _final(survivors: Mapping[str, str], profile_id: str) -> str:
    for _ in range(_MAX_CHAIN):
        survivor = survivors.get(profile_id)
        if survivor is None or survivor == profile_id:
            break
        profile_id = survivor
    return profile_id


def export_identities(store: Store, out: TextIO) -> int:
    """Write CSV ``source,record_id,profile_id`` to ``out``: every external id (``crm:C0000001`` -> ``crm``,
    ``C0000001``) and every user / anonymous id (its first source, the id). A held identifier has an empty
    profile_id. Streams the rows from one snapshot; returns how many were written (the header not counted)."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(EXPORT_COLUMNS)
    count = 0
    with store.read() as conn:
        # Merged-away ids -> survivors (one entry per merge, far fewer than identifiers); an id revived as a live
        # profile answers as itself, as in get_profile.
        merged = (
            select(identity_merges.c.merged_id, identity_merges.c.survivor_id)
            .where(identity_merges.c.merged_id.not_in(select(identity_profiles.c.profile_id)))
            .order_by(identity_merges.c.merged_at, identity_merges.c.id)
        )
        survivors: dict[str, str] = {row[0]: row[1] for row in conn.execute(merged)}
        for row in _export_rows(conn, survivors):
            writer.writerow(row)
            count += 1
    return count
