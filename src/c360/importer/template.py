"""A message template: the shape of the messages one mapping produces, written once and rendered two ways.

- ``render_rows`` builds one Python dict per row (the reference: what ``to_record`` is given);
- ``render_json`` builds the JSON text of every row at once with pyarrow.compute (the fast path).

A test renders the same batches both ways and asserts that the texts are byte-identical to ``orjson.dumps`` of
the dicts. Values come from a *frame*: Arrow arrays by name, one entry per row. A null value is absent: its key
is left out of the object (``Nullable`` writes JSON null instead), and an object or a list left empty is absent
too, unless it is marked ``keep``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import pyarrow as pa
import pyarrow.compute as pc

from c360.importer import jsontext

Frame: TypeAlias = Mapping[str, pa.Array]


@dataclass(frozen=True, slots=True)
class Const:
    value: Any


@dataclass(frozen=True, slots=True)
class Col:
    """A column of the frame, written as its Arrow type says: string, integer, boolean or float."""

    name: str


@dataclass(frozen=True, slots=True)
class Nullable:
    """``node``, written as JSON null where it is absent (Segment's ``"userId": null``)."""

    node: Node


@dataclass(frozen=True, slots=True)
class Money:
    """Integer minor units (column ``minor``) written in major units; ``digits`` is the currency's exponent."""

    minor: str
    digits: str


@dataclass(frozen=True, slots=True)
class Obj:
    entries: tuple[tuple[str, Node], ...]
    keep: bool = False


@dataclass(frozen=True, slots=True)
class Arr:
    """A list of the items that are present."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class When:
    """``node`` on the rows where column ``column`` is present; absent elsewhere."""

    column: str
    node: Node


@dataclass(frozen=True, slots=True)
class Each:
    """A list column of structs: ``item`` is rendered for every element, over the struct's fields."""

    column: str
    item: Node


Node: TypeAlias = Const | Col | Nullable | Money | Obj | Arr | When | Each


class _Absent:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


# --- per row: Python values ------------------------------------------------------------------------------------
def render_rows(node: Node, frame: Frame, rows: int) -> list[Any]:
    """The value of ``node`` on each row (ABSENT where it is absent)."""
    return _Rows(frame, rows).render(node)


class _Rows:
    def __init__(self, frame: Frame, rows: int) -> None:
        self.frame = frame
        self.rows = rows
        self._lists: dict[str, list[Any]] = {}

    def column(self, name: str) -> list[Any]:
        if name not in self._lists:
            self._lists[name] = self.frame[name].to_pylist()
        return self._lists[name]

    def render(self, node: Node) -> list[Any]:
        if isinstance(node, Const):
            return [node.value] * self.rows
        if isinstance(node, Col):
            return [ABSENT if v is None else v for v in self.column(node.name)]
        if isinstance(node, Nullable):
            return [None if v is ABSENT else v for v in self.render(node.node)]
        if isinstance(node, Money):
            return [
                ABSENT if m is None else (m if not d else m / 10**d)
                for m, d in zip(self.column(node.minor), self.column(node.digits), strict=True)
            ]
        if isinstance(node, Obj):
            keys = [key for key, _ in node.entries]
            columns = [self.render(child) for _, child in node.entries]
            out: list[Any] = []
            for values in zip(*columns, strict=True) if columns else [()] * self.rows:
                obj = {k: v for k, v in zip(keys, values, strict=True) if v is not ABSENT}
                out.append(obj if obj or node.keep else ABSENT)
            return out
        if isinstance(node, Arr):
            columns = [self.render(child) for child in node.items]
            lists = [[v for v in values if v is not ABSENT] for values in zip(*columns, strict=True)]
            return [items if items else ABSENT for items in lists]
        if isinstance(node, When):
            present = self.column(node.column)
            return [ABSENT if p is None else v for p, v in zip(present, self.render(node.node), strict=True)]
        return self._each(node)

    def _each(self, node: Each) -> list[Any]:
        lists = self.frame[node.column]
        flat = pc.list_flatten(lists)
        fields = {f.name: flat.field(i) for i, f in enumerate(flat.type)}
        items = _Rows(fields, len(flat)).render(node.item)
        out: list[Any] = []
        offsets = lists.offsets.to_pylist()
        valid = lists.is_valid().to_pylist()
        for i in range(self.rows):
            if not valid[i]:
                out.append(ABSENT)
                continue
            start, end = offsets[i] - offsets[0], offsets[i + 1] - offsets[0]
            out.append([item for item in items[start:end] if item is not ABSENT])
        return out


# --- all rows at once: JSON text -------------------------------------------------------------------------------
def render_json(node: Node, frame: Frame, rows: int, memo: dict[int, jsontext.Text] | None = None) -> pa.Array:
    """The JSON text of ``node`` on every row (null where it is absent).

    ``memo`` lets several templates that share sub-trees (the message and the content hashed into its
    messageId) render each shared part once.
    """
    text = _Json(frame, rows, {} if memo is None else memo).render(node)
    if isinstance(text, pa.Scalar):
        return pa.array([text.as_py()] * rows, pa.string())
    return text


class _Json:
    def __init__(self, frame: Frame, rows: int, memo: dict[int, jsontext.Text]) -> None:
        self.frame = frame
        self.rows = rows
        self.memo = memo

    def render(self, node: Node) -> jsontext.Text:
        key = id(node)
        if key not in self.memo:
            self.memo[key] = self._render(node)
        return self.memo[key]

    def _render(self, node: Node) -> jsontext.Text:
        if isinstance(node, Const):
            return jsontext.scalar(node.value)
        if isinstance(node, Col):
            return _column_json(self.frame[node.name])
        if isinstance(node, Nullable):
            inner = self.render(node.node)
            return inner if isinstance(inner, pa.Scalar) else pc.fill_null(inner, "null")
        if isinstance(node, Money):
            return jsontext.major_units(self.frame[node.minor], self.frame[node.digits])
        if isinstance(node, Obj):
            parts = [self._member(key, child) for key, child in node.entries]
            inner = jsontext.join_present(parts, ",", self.rows)
            wrapped = jsontext.concat("{", inner, "}")
            return wrapped if node.keep else pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), wrapped)
        if isinstance(node, Arr):
            inner = jsontext.join_present([self.render(item) for item in node.items], ",", self.rows)
            return pc.if_else(pc.equal(inner, ""), pa.scalar(None, pa.string()), jsontext.concat("[", inner, "]"))
        if isinstance(node, When):
            return pc.if_else(
                pc.is_valid(self.frame[node.column]), self.render(node.node), pa.scalar(None, pa.string())
            )
        return self._each(node)

    def _member(self, key: str, child: Node) -> jsontext.Text:
        """``"key":value`` (null where the value is absent), the quotes of a text value added in the same step."""
        prefix = jsontext.scalar(key).as_py() + ":"
        if isinstance(child, Col) and id(child) not in self.memo:
            values = self.frame[child.name]
            if pa.types.is_string(values.type):
                return jsontext.string(values, prefix)
        return jsontext.concat(prefix, self.render(child))

    def _each(self, node: Each) -> jsontext.Text:
        lists = self.frame[node.column]
        if isinstance(lists, pa.ChunkedArray):
            lists = lists.combine_chunks()
        flat = lists.flatten()
        fields = {f.name: flat.field(i) for i, f in enumerate(flat.type)}
        items = render_json(node.item, fields, len(flat))
        regrouped = pa.ListArray.from_arrays(pc.subtract(lists.offsets, lists.offsets[0]), items, mask=lists.is_null())
        return jsontext.concat("[", pc.binary_join(regrouped, ","), "]")


def _column_json(values: pa.Array) -> pa.Array:
    kind = values.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return jsontext.string(values)
    if pa.types.is_integer(kind):
        return jsontext.integer(values)
    if pa.types.is_boolean(kind):
        return jsontext.boolean(values)
    if pa.types.is_floating(kind):
        return jsontext.number(values)
    raise TypeError(f"no JSON form for a column of type {kind}")
