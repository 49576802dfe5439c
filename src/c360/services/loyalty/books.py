"""The ledger in the store, inside one transaction: members locked, entries posted, lots drawn.

Every change to a balance goes through ``Books.post``: an entry's postings must add up to zero, and the member
rows' stored balances move by exactly the postings' amounts. Members are locked (``SELECT ... FOR UPDATE`` on
PostgreSQL; SQLite's write transaction already holds the database) before anything about them is read, so two
transactions never both spend the same points.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple

import orjson
from sqlalchemy import Connection, bindparam, func, insert, or_, select, update

from c360.errors import NotFound
from c360.loyalty.ledger import MEMBER_ACCOUNTS, Draw, LotView
from c360.store.prepared import Prepared, PreparedInsert
from c360.store.schema import (
    loyalty_counters,
    loyalty_draws,
    loyalty_entries,
    loyalty_lots,
    loyalty_members,
    loyalty_postings,
    loyalty_shares,
)
from c360.store.types import utcnow
from c360.store.upsert import upsert

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud at a till

# The statements of every earn and redeem, compiled once per database and run on the DBAPI connection
# (c360.store.prepared: SQLAlchemy's execution path costs ~8x what SQLite does for statements this small).
# Bound names start with `b_`: SQLAlchemy keeps a column's own name for the VALUES / SET of its table.
_MEMBER: Final = select(loyalty_members).where(loyalty_members.c.member_id == bindparam("b_member_id"))
_GET_MEMBER: Final = Prepared(_MEMBER)
_GET_MEMBER_LOCKED: Final = Prepared(_MEMBER.with_for_update())
# Every member row of the profile (almost always one): the choice among them is made here rather than by an ORDER BY,
# which SQLite sorts in a temporary b-tree on every earn.
_MEMBERS_OF_PROFILE_LOCKED: Final = Prepared(
    select(loyalty_members).where(loyalty_members.c.profile_id == bindparam("b_profile_id")).with_for_update()
)
_NEW_MEMBER: Final = Prepared(insert(loyalty_members))
_ENTRY_BY_KEY: Final = Prepared(select(loyalty_entries).where(loyalty_entries.c.key == bindparam("b_key")))
_NEW_ENTRY: Final = PreparedInsert(loyalty_entries)
_NEW_POSTINGS: Final = Prepared(insert(loyalty_postings))
_NEW_SHARES: Final = Prepared(insert(loyalty_shares))
_NEW_LOT: Final = PreparedInsert(loyalty_lots)
_NEW_DRAWS: Final = Prepared(insert(loyalty_draws))
_LOTS: Final = Prepared(
    select(loyalty_lots)
    .where(
        loyalty_lots.c.member_id == bindparam("b_member_id"),
        or_(loyalty_lots.c.state == "pending", loyalty_lots.c.state == "active"),
    )
    .order_by(loyalty_lots.c.id)
)
_DRAW_FROM_LOT: Final = Prepared(
    update(loyalty_lots)
    .where(loyalty_lots.c.id == bindparam("b_lot_id"))
    .values(remaining=loyalty_lots.c.remaining - bindparam("b_amount"))
)
_DRAWS_OF: Final = Prepared(select(loyalty_draws).where(loyalty_draws.c.entry_id == bindparam("b_entry_id")))
_COUNTER: Final = Prepared(
    select(loyalty_counters.c.used).where(loyalty_counters.c.name == bindparam("b_name")).with_for_update()
)
# An unknown (NULL) settle_due stays unknown: NULL > anything is not true.
_LOWER_SETTLE_DUE: Final = Prepared(
    update(loyalty_members)
    .where(loyalty_members.c.member_id == bindparam("b_member_id"), loyalty_members.c.settle_due > bindparam("b_due"))
    .values(settle_due=bindparam("b_due"))
)
_COUNT: Final = Prepared(
    update(loyalty_counters)
    .where(loyalty_counters.c.name == bindparam("b_name"))
    .values(used=loyalty_counters.c.used + bindparam("b_delta"))
)


@functools.cache
def _update_member(accounts: tuple[str, ...], columns: tuple[str, ...] = ()) -> Prepared:
    """UPDATE of a member's row: its stored balances of ``accounts`` moved by bound amounts (``b_<account>``, and
    ``updated_at`` set to ``b_now``), and ``columns`` set to bound values (``b_set_<column>``)."""
    values: dict[str, Any] = {account: loyalty_members.c[account] + bindparam(f"b_{account}") for account in accounts}
    if accounts:
        values["updated_at"] = bindparam("b_now")
    values.update({column: bindparam(f"b_set_{column}") for column in columns})
    return Prepared(
        update(loyalty_members).where(loyalty_members.c.member_id == bindparam("b_member_id")).values(**values)
    )


class Posting(NamedTuple):  # a named tuple: every operation builds several
    member_id: str
    account: str  # pending, active, ... or program.issued / program.adjustments
    amount: int


#: The settle_due of a member none of whose lots will ever activate or expire.
NEVER: Final = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)


def new_referral_code() -> str:
    return random_code(8)


def random_code(length: int) -> str:
    """``length`` characters of ``CODE_ALPHABET``, from the system's secure random source: one read of it, where
    ``secrets.choice`` would make one per character. (32 characters: each byte's low 5 bits pick one uniformly.)"""
    return "".join([CODE_ALPHABET[byte & 31] for byte in secrets.token_bytes(length)])


class Books:
    def __init__(self, conn: Connection, now: dt.datetime | None = None) -> None:
        self.conn = conn
        self.now = now or utcnow()
        # Each member's settle_due as this transaction last read or wrote it (None: not known). Member rows
        # are locked before they are read, so no other transaction changes it meanwhile.
        self._settle_due: dict[str, dt.datetime | None] = {}

    # --- members ------------------------------------------------------------------------------------------------
    def member(self, member_id: str, *, lock: bool = True) -> Any:
        """The member row (locked); a merged member answers with its survivor's row."""
        for _ in range(10):
            row = (_GET_MEMBER_LOCKED if lock else _GET_MEMBER).first(self.conn, {"b_member_id": member_id})
            if row is None:
                raise NotFound(f"no loyalty member {member_id!r}")
            if row.status != "merged" or row.merged_into is None:
                self._settle_due[row.member_id] = row.settle_due
                return row
            member_id = row.merged_into
        raise NotFound(f"loyalty member {member_id!r}: merge chain too long")

    def lock_members(self, member_ids: Iterable[str]) -> dict[str, Any]:
        # Always in the same order, so two transactions locking the same pair never wait on each other.
        return {member_id: self.member(member_id) for member_id in sorted(set(member_ids))}

    def member_for_profile(self, profile_id: str) -> Any | None:
        """The profile's member (locked); a profile whose account was merged answers with the survivor's row."""
        rows = _MEMBERS_OF_PROFILE_LOCKED.rows(self.conn, {"b_profile_id": profile_id})
        if not rows:
            return None
        # An active account first, then the oldest enrolment.
        row = rows[0] if len(rows) == 1 else min(rows, key=lambda r: (r.status != "active", r.enrolled_at))
        if row.status == "merged":
            return self.member(row.member_id)
        self._settle_due[row.member_id] = row.settle_due
        return row

    def create_member(
        self, member_id: str, profile_id: str, *, tier: str, birth_month: int | None, referred_by: str | None
    ) -> Any:
        _NEW_MEMBER.execute(
            self.conn,
            {
                "member_id": member_id,
                "profile_id": profile_id,
                "status": "active",
                "enrolled_at": self.now,
                "birth_month": birth_month,
                "referral_code": new_referral_code(),
                "referred_by": referred_by,
                "tier": tier,
                **dict.fromkeys(MEMBER_ACCOUNTS, 0),
                "updated_at": self.now,
            },
        )
        return self.member(member_id)

    # --- entries and postings -----------------------------------------------------------------------------------
    def existing(self, key: str) -> Any | None:
        return _ENTRY_BY_KEY.first(self.conn, {"b_key": key})

    def entry(
        self,
        member_id: str,
        kind: str,
        *,
        at: dt.datetime,
        points: int,
        reason: str,
        key: str | None = None,
        detail: Any = None,
        ref: int | None = None,
    ) -> int:
        return _NEW_ENTRY.new_id(
            self.conn,
            {
                "member_id": member_id,
                "kind": kind,
                "key": key,
                "at": at,
                "recorded_at": self.now,
                "points": points,
                "reason": reason,
                "detail": orjson.dumps(detail).decode() if detail is not None else None,
                "ref_entry_id": ref,
            },
        )

    def post(
        self, entry_id: int, postings: Sequence[Posting], *, sets: Mapping[str, Mapping[str, Any]] | None = None
    ) -> None:
        """Write ``postings`` for ``entry_id`` and move the members' stored balances by them. ``sets``: other
        columns of member rows (member id -> column -> value) written by the same UPDATE of each row."""
        postings = [p for p in postings if p.amount != 0]
        if sum(p.amount for p in postings) != 0:
            raise AssertionError(f"entry {entry_id}: postings do not add up to zero: {postings}")
        if postings:
            _NEW_POSTINGS.many(
                self.conn,
                [
                    {"entry_id": entry_id, "member_id": p.member_id, "account": p.account, "amount": p.amount}
                    for p in postings
                ],
            )
        moves: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for p in postings:
            if p.account in MEMBER_ACCOUNTS:
                moves[p.member_id][p.account] += p.amount
        sets = sets or {}
        for member_id in {**moves, **sets}:
            self.update_member(member_id, moves.get(member_id, {}), sets.get(member_id, {}))

    def update_member(self, member_id: str, moves: Mapping[str, int], sets: Mapping[str, Any]) -> None:
        """One UPDATE of the member's row: balances moved by ``moves`` (account -> amount), ``sets`` written."""
        accounts = tuple(sorted(moves))
        columns = tuple(sorted(sets))
        if not accounts and not columns:
            return
        params: dict[str, Any] = {f"b_{account}": moves[account] for account in accounts}
        params.update({f"b_set_{column}": sets[column] for column in columns})
        params["b_member_id"] = member_id
        if accounts:
            params["b_now"] = self.now
        _update_member(accounts, columns).execute(self.conn, params)

    def shares(self, entry_id: int, member_id: str, at: dt.datetime, shares: Iterable[tuple[str, int]]) -> None:
        rows = [
            {"entry_id": entry_id, "member_id": member_id, "rule": rule, "at": at, "points": points}
            for rule, points in shares
            if points
        ]
        if rows:
            _NEW_SHARES.many(self.conn, rows)

    def used(self, member_id: str, rule: str, since: dt.datetime | None, until: dt.datetime | None) -> int:
        query = select(func.coalesce(func.sum(loyalty_shares.c.points), 0)).where(
            loyalty_shares.c.member_id == member_id, loyalty_shares.c.rule == rule
        )
        if since is not None:
            query = query.where(loyalty_shares.c.at >= since)
        if until is not None:
            query = query.where(loyalty_shares.c.at < until)
        return int(self.conn.execute(query).scalar_one())

    # --- lots -----------------------------------------------------------------------------------------------------
    def new_lot(
        self,
        member_id: str,
        entry_id: int,
        *,
        points: int,
        state: str,
        earned_at: dt.datetime,
        activates_at: dt.datetime | None,
        expires_at: dt.datetime | None,
        origin: str | None = None,
        sets: dict[str, Any] | None = None,
    ) -> int:
        """``sets``: where a lowered ``settle_due`` goes when the caller writes the member's row itself."""
        due = activates_at if state == "pending" else expires_at if state == "active" else None
        if due is not None:
            self._lot_due(member_id, due, sets)
        return _NEW_LOT.new_id(
            self.conn,
            {
                "member_id": member_id,
                "origin_member_id": origin or member_id,
                "entry_id": entry_id,
                "state": state,
                "earned_at": earned_at,
                "activates_at": activates_at,
                "expires_at": expires_at,
                "original": points,
                "remaining": points,
            },
        )

    # --- when settling has something to do ----------------------------------------------------------------------
    # A member's ``settle_due`` is the earliest time one of its lots activates or expires, so settling before
    # then has nothing to do and need not read the lots: an earn stays as cheap for a member with years of
    # history as for a new one. New lots lower it; settling sets it from the lots it read; anything else that
    # moves or restores lots makes it unknown (NULL), and the next settling reads the lots again.
    def settle_due(self, member_id: str) -> dt.datetime | None:
        """No lot of the member activates or expires before this time (None: not known)."""
        if member_id not in self._settle_due:
            self.member(member_id)
        return self._settle_due.get(member_id)

    def set_settle_due(self, member_id: str, due: dt.datetime | None, sets: dict[str, Any] | None = None) -> None:
        """``sets``: the new value goes there, for the caller's own UPDATE of the member's row."""
        if member_id in self._settle_due and self._settle_due[member_id] == due:
            return
        if sets is not None:
            sets["settle_due"] = due
        else:
            self.update_member(member_id, {}, {"settle_due": due})
        self._settle_due[member_id] = due

    def forget_settle_due(self, *member_ids: str) -> None:
        """Lots of these members were moved or restored: the next settling reads them."""
        for member_id in member_ids:
            self.set_settle_due(member_id, None)

    def _lot_due(self, member_id: str, at: dt.datetime, sets: dict[str, Any] | None = None) -> None:
        """One of the member's lots activates or expires at ``at``."""
        if member_id not in self._settle_due:
            _LOWER_SETTLE_DUE.execute(self.conn, {"b_member_id": member_id, "b_due": at})
            return
        known = self._settle_due[member_id]
        if known is not None and at < known:
            self.set_settle_due(member_id, at, sets)

    def lots(self, member_id: str) -> list[Any]:
        """The member's pending and active lots, oldest first."""
        return _LOTS.rows(self.conn, {"b_member_id": member_id})

    @staticmethod
    def views(rows: Iterable[Any]) -> list[LotView]:
        return [LotView(r.id, r.state, int(r.remaining), r.earned_at, r.expires_at) for r in rows]

    def draw(self, entry_id: int, member_id: str, draws: Sequence[Draw], to_account: str) -> list[Posting]:
        """Take ``draws`` out of their lots; the postings move the points from the lots' accounts to
        ``to_account`` (the caller posts them, with any others of the same entry)."""
        if not draws:
            return []
        _DRAW_FROM_LOT.many(self.conn, [{"b_lot_id": d.lot_id, "b_amount": d.amount} for d in draws])
        _NEW_DRAWS.many(
            self.conn,
            [{"entry_id": entry_id, "lot_id": d.lot_id, "account": d.account, "amount": d.amount} for d in draws],
        )
        by_account: dict[str, int] = defaultdict(int)
        for d in draws:
            by_account[d.account] += d.amount
        total = sum(by_account.values())
        out = [Posting(member_id, account, -amount) for account, amount in by_account.items()]
        out.append(Posting(member_id, to_account, total))
        return out

    def draws_of(self, entry_id: int) -> list[Any]:
        return _DRAWS_OF.rows(self.conn, {"b_entry_id": entry_id})

    # --- counters (campaign budgets, reward stock) ------------------------------------------------------------------
    def counter(self, name: str) -> int:
        """The counter's value, locked for this transaction (created at zero)."""
        value = _COUNTER.scalar(self.conn, {"b_name": name})
        if value is None:
            upsert(
                self.conn,
                loyalty_counters,
                {"name": name, "used": 0},
                key=("name",),
                on_conflict={"used": loyalty_counters.c.used},
            )
            value = _COUNTER.scalar(self.conn, {"b_name": name})
        return int(value or 0)

    def count(self, name: str, delta: int) -> None:
        _COUNT.execute(self.conn, {"b_name": name, "b_delta": delta})
