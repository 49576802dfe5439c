"""Reading every mapped field of one batch, and remembering which rows are wrong, where and why."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from c360.importer import columns
from c360.importer.columns import Bad, MoneyColumn, TimeReader
from c360.importer.mapping import FieldSource

_ITEM = r"^\s*(?P<sku>[^:]+?)\s*(?::\s*(?P<qty>[^:]*?)\s*)?(?::\s*(?P<price>.*?)\s*)?$"
_ITEM_TYPE = pa.struct([("sku", pa.string()), ("quantity", pa.int64()), ("price", pa.int64()), ("digits", pa.int32())])


@dataclass(frozen=True, slots=True)
class Problem:
    """Rows of a batch whose ``key`` (mapping key) read from ``column`` is wrong; with ``warn`` the rows are kept
    and the field is left missing (the mapping's ``invalid: missing``: the values read are null there already)."""

    key: str
    column: str
    bad: Bad
    warn: bool = False


class FieldReader:
    """The fields of one batch (``table``), read as the mapping says; problems are collected in ``problems``."""

    def __init__(self, table: pa.Table, times: TimeReader) -> None:
        self.table = table
        self.rows = table.num_rows
        self.times = times
        self.problems: list[Problem] = []
        self._cleaned: dict[str, pa.Array] = {}
        #: The ISO text of each timestamp field read, by mapping key (Segment writes times as text).
        self.iso_texts: dict[str, pa.Array] = {}

    # --- plumbing ----------------------------------------------------------------------------------------------
    def raw(self, column: str) -> pa.Array:
        values = self.table.column(column) if column in self.table.column_names else pa.nulls(self.rows, pa.string())
        return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values

    def cleaned(self, column: str) -> pa.Array:
        if column not in self._cleaned:
            self._cleaned[column] = columns.clean(self.raw(column))
        return self._cleaned[column]

    def problem(self, source: FieldSource, bad: Bad | None) -> None:
        if bad is not None:
            self.problems.append(Problem(source.key, source.column, bad, warn=source.invalid == "missing"))

    def require(self, source: FieldSource, values: pa.Array, reason: str = "missing") -> None:
        """Rows where ``values`` is missing are wrong (unless they are wrong already for this field)."""
        missing = pc.is_null(values)
        if pc.any(missing).as_py():
            self.problems.append(Problem(source.key, source.column, Bad(missing, reason)))

    def _native(self, source: FieldSource) -> pa.Array | None:
        """The single column of ``source`` when it is already typed (Parquet), else None."""
        if len(source.columns) != 1 or source.values:
            return None
        values = self.raw(source.column)
        return None if pa.types.is_string(values.type) or pa.types.is_large_string(values.type) else values

    # --- fields ------------------------------------------------------------------------------------------------
    def text(self, source: FieldSource) -> pa.Array:
        parts = [self.cleaned(column) for column in source.columns]
        return columns.remap(columns.joined(parts, source.join), source.values)

    def value(self, source: FieldSource) -> pa.Array:
        """A field of any parser but money and items (which need the row's currency: see ``money``)."""
        parser = source.parser
        if parser == "text":
            return self.text(source)
        if parser == "gender":
            return columns.gender(self.text(source))
        if parser in ("timestamp", "date", "integer", "number"):
            native = self._native(source)
            given = native if native is not None else self.text(source)
            if parser == "timestamp":
                values, iso, bad = self.times.instants(given, source.formats)
                self.iso_texts[source.key] = iso
            elif parser == "date":
                values, bad = self.times.dates(given, source.formats)
            elif parser == "integer":
                values, bad = columns.integer(given, source.low, source.high)
            else:
                values, bad = columns.number(given)
        elif parser == "boolean":
            native = self._native(source)
            if native is not None and pa.types.is_boolean(native.type):
                return native
            values, bad = columns.boolean(self.text(source))
        elif parser == "event":
            values, bad = columns.email_event(self.text(source), fixed_names=bool(source.values))
        elif parser == "currency":
            values, bad = columns.currency(self.text(source))
        else:
            raise ValueError(f"{source.key}: a {parser} field is read with its own method")
        self.problem(source, bad)
        return values

    def money(self, source: FieldSource, default_currency: pa.Array) -> MoneyColumn:
        read = columns.money(self.text(source), default_currency)
        self.problem(source, read.bad)
        return read

    def items(self, source: FieldSource, currency: pa.Array) -> pa.Array:
        """Order lines written ``sku:qty[:price]`` separated by ``;`` as a list of {sku, quantity, price, digits}.

        A missing quantity is 1; a price is money text in the order's currency.
        """
        text = self.text(source)
        # "a:1; ;b:2;" -> "a:1;b:2": no empty items, so the lists' own offsets are the items' offsets
        text = pc.replace_substring_regex(pc.utf8_trim(text, "; \t"), r"\s*;[\s;]*", ";")
        text = pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)
        lists = pc.split_pattern(text, ";")
        flat = lists.flatten()
        parents = pc.list_parent_indices(lists)
        parts = pc.extract_regex(flat, _ITEM)
        sku = pc.struct_field(parts, "sku")
        qty_text = pc.struct_field(parts, "qty")
        qty_text = pc.if_else(pc.fill_null(pc.equal(qty_text, ""), True), "1", qty_text)
        quantity, qty_bad = columns.integer(qty_text, 1, 1_000_000)
        price_text = pc.struct_field(parts, "price")
        price_text = pc.if_else(pc.fill_null(pc.equal(price_text, ""), True), pa.scalar(None, pa.string()), price_text)
        item_currency = pc.take(currency, parents)
        prices = columns.money(price_text, pc.fill_null(item_currency, ""))
        nothing = pa.array([False] * len(flat), pa.bool_())
        wrong_item = pc.or_(
            pc.or_(pc.is_null(sku), qty_bad.mask if qty_bad else nothing),
            pc.or_(
                prices.bad.mask if prices.bad else nothing,
                pc.fill_null(pc.not_equal(prices.currency, item_currency), False),
            ),
        )
        if pc.any(wrong_item).as_py():
            wrong_rows = pc.unique(pc.filter(parents, wrong_item))
            mask = pc.is_in(pa.array(range(self.rows), pa.int64()), value_set=pc.cast(wrong_rows, pa.int64()))
            reason = "an item is not sku:quantity[:price] (items are separated by ';'; prices in the order's currency)"
            self.problems.append(Problem(source.key, source.column, Bad(mask, reason)))
        structs = pa.StructArray.from_arrays(
            [sku, quantity, prices.minor, columns.exponents(pc.fill_null(item_currency, "VND"))],
            fields=list(_ITEM_TYPE),
        )
        return pa.ListArray.from_arrays(lists.offsets, structs, type=pa.list_(_ITEM_TYPE), mask=lists.is_null())
