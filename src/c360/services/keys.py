"""API keys (for the admin and profile APIs) and sources with their write keys (for the tracking API).

A key is shown once, when it is made; the store keeps only its SHA-256 (the keys are long random tokens, so a
slow password hash would add nothing but latency to every request).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import Connection, Insert, bindparam, insert, select, update

from c360.errors import AuthError, ForbiddenError, InvalidInput, NotFound
from c360.store import Store
from c360.store.prepared import Prepared
from c360.store.schema import api_keys, audit_log, sources, write_keys
from c360.store.types import utcnow

Scope = Literal["admin", "write", "read"]
SCOPES: tuple[Scope, ...] = ("admin", "write", "read")
# What each scope may do: admin everything, write also reads.
_GRANTS: dict[str, frozenset[str]] = {
    "admin": frozenset(SCOPES),
    "write": frozenset({"write", "read"}),
    "read": frozenset({"read"}),
}


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _audit(conn: Connection, actor: str, action: str, target: str, detail: dict[str, Any] | None = None) -> None:
    conn.execute(insert(audit_log).values(at=utcnow(), actor=actor, action=action, target=target, detail=detail))


def _insert_id(conn: Connection, statement: Insert) -> int:
    key = conn.execute(statement).inserted_primary_key
    assert key is not None
    return int(key[0])


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    scope: str
    prefix: str


def create_api_key(store: Store, scope: str, *, name: str = "", actor: str = "cli") -> tuple[str, ApiKey]:
    """A new key with ``scope``; returns the key itself (never stored) and its record."""
    if scope not in SCOPES:
        raise InvalidInput(f"must be one of {', '.join(SCOPES)}, got {scope!r}", field="scope")
    key = f"c360_{scope}_{secrets.token_urlsafe(32)}"
    prefix = key[: len(scope) + 10]
    with store.write() as conn:
        key_id = _insert_id(
            conn,
            insert(api_keys).values(
                name=name or f"{scope} key",
                scope=scope,
                key_hash=hash_key(key),
                prefix=prefix,
                created_at=utcnow(),
            ),
        )
        _audit(conn, actor, "api_key.create", prefix, {"scope": scope, "name": name})
    return key, ApiKey(key_id, name or f"{scope} key", scope, prefix)


# Every API request runs it: prepared (c360.store.prepared), as SQLAlchemy's execution costs more than the read.
_KEY_BY_HASH: Final = Prepared(
    select(api_keys.c.id, api_keys.c.name, api_keys.c.scope, api_keys.c.prefix).where(
        (api_keys.c.key_hash == bindparam("b_hash")) & api_keys.c.revoked_at.is_(None)
    )
)


def authenticate(store: Store, key: str | None, needs: Scope) -> ApiKey:
    """The key's record if ``key`` is valid and grants ``needs``; AuthError (401) or ForbiddenError (403)."""
    if not key:
        raise AuthError("an API key is required: send `Authorization: Bearer <key>`")
    with store.read() as conn:
        row = _KEY_BY_HASH.first(conn, {"b_hash": hash_key(key)})
    if row is None:
        raise AuthError("unknown or revoked API key")
    if needs not in _GRANTS[row.scope]:
        raise ForbiddenError(f"this key has scope {row.scope!r}; this action needs {needs!r}")
    return ApiKey(row.id, row.name, row.scope, row.prefix)


def revoke_api_key(store: Store, prefix: str, *, actor: str = "cli") -> None:
    with store.write() as conn:
        done = conn.execute(
            update(api_keys)
            .where((api_keys.c.prefix == prefix) & api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        ).rowcount
        if not done:
            raise NotFound(f"no active API key starts with {prefix!r}")
        _audit(conn, actor, "api_key.revoke", prefix)


def list_api_keys(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(
            select(
                api_keys.c.prefix, api_keys.c.name, api_keys.c.scope, api_keys.c.created_at, api_keys.c.revoked_at
            ).order_by(api_keys.c.id)
        )
        return [dict(row._mapping) for row in rows]


# --- sources -------------------------------------------------------------------------------------------------
def _check_source_name(name: str) -> str:
    cleaned = name.strip()
    if not cleaned or len(cleaned) > 100 or not all(c.isalnum() or c in "-_." for c in cleaned):
        raise InvalidInput(
            f"{name!r} is not a valid source name (1-100 letters, digits, '-', '_' or '.')", field="name"
        )
    return cleaned


def _new_write_key(conn: Connection, source_id: int) -> str:
    key = f"wk_{secrets.token_urlsafe(24)}"
    conn.execute(
        insert(write_keys).values(source_id=source_id, key_hash=hash_key(key), prefix=key[:10], created_at=utcnow())
    )
    return key


def add_source(store: Store, name: str, *, actor: str = "cli") -> str:
    """Create source ``name``; returns its first write key."""
    name = _check_source_name(name)
    with store.write() as conn:
        if conn.execute(select(sources.c.id).where(sources.c.name == name)).first():
            raise InvalidInput(f"a source named {name!r} already exists", field="name")
        source_id = _insert_id(conn, insert(sources).values(name=name, created_at=utcnow()))
        key = _new_write_key(conn, source_id)
        _audit(conn, actor, "source.create", name)
    return key


def ensure_source(store: Store, name: str) -> int:
    """The id of source ``name``, created (without a write key) when missing — for imports and the demo."""
    name = _check_source_name(name)
    with store.write() as conn:
        found = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar_one_or_none()
        if found is not None:
            return int(found)
        return _insert_id(conn, insert(sources).values(name=name, created_at=utcnow()))


def source_for_write_key(store: Store, key: str | None) -> str:
    """The name of the source whose active write key is ``key``; AuthError otherwise."""
    if not key:
        raise AuthError("a write key is required")
    with store.read() as conn:
        name = conn.execute(
            select(sources.c.name)
            .join(write_keys, write_keys.c.source_id == sources.c.id)
            .where((write_keys.c.key_hash == hash_key(key)) & write_keys.c.revoked_at.is_(None))
        ).scalar_one_or_none()
    if name is None:
        raise AuthError("unknown or revoked write key")
    return str(name)


def list_sources(store: Store) -> list[dict[str, Any]]:
    with store.read() as conn:
        rows = conn.execute(select(sources.c.name, sources.c.created_at).order_by(sources.c.name))
        return [dict(row._mapping) for row in rows]


def _source_id(conn: Connection, name: str) -> int:
    found = conn.execute(select(sources.c.id).where(sources.c.name == name)).scalar_one_or_none()
    if found is None:
        raise NotFound(f"no source named {name!r}")
    return int(found)


def rotate_write_key(store: Store, name: str, *, revoke_old: bool = False, actor: str = "cli") -> str:
    """A new write key for source ``name``. Old keys stay valid (so senders can move over without
    downtime) unless ``revoke_old``."""
    with store.write() as conn:
        source_id = _source_id(conn, name)
        if revoke_old:
            conn.execute(
                update(write_keys)
                .where((write_keys.c.source_id == source_id) & write_keys.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        key = _new_write_key(conn, source_id)
        _audit(conn, actor, "write_key.rotate", name, {"revoke_old": revoke_old, "prefix": key[:10]})
    return key


def revoke_write_key(store: Store, name: str, prefix: str, *, actor: str = "cli") -> None:
    with store.write() as conn:
        source_id = _source_id(conn, name)
        done = conn.execute(
            update(write_keys)
            .where(
                (write_keys.c.source_id == source_id)
                & (write_keys.c.prefix == prefix)
                & write_keys.c.revoked_at.is_(None)
            )
            .values(revoked_at=utcnow())
        ).rowcount
        if not done:
            raise NotFound(f"source {name!r} has no active write key starting with {prefix!r}")
        _audit(conn, actor, "write_key.revoke", name, {"prefix": prefix})


def list_write_keys(store: Store, name: str) -> list[dict[str, Any]]:
    with store.read() as conn:
        source_id = _source_id(conn, name)
        rows = conn.execute(
            select(write_keys.c.prefix, write_keys.c.created_at, write_keys.c.revoked_at)
            .where(write_keys.c.source_id == source_id)
            .order_by(write_keys.c.id)
        )
        return [dict(row._mapping) for row in rows]
