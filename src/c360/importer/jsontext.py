"""JSON text built a column at a time with pyarrow.compute, byte for byte as ``orjson.dumps`` writes it.

Arrays here are Arrow string arrays in which null means "absent": a key whose value is null is left out of its
object, as the per-row path leaves out missing values. Scalars stand for one value repeated on every row.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import orjson
import pyarrow as pa
import pyarrow.compute as pc

#: A column of JSON texts (pa.Array), or one text for every row (pa.Scalar). pyarrow ships no type stubs, so to
#: mypy both are Any.
Text: TypeAlias = Any

#: Characters that JSON strings must escape; without them a value is copied between quotes as it is.
_NEEDS_ESCAPE = r'["\\\x00-\x1f]'


def scalar(value: Any) -> pa.Scalar:
    """A constant as JSON text (a scalar: the same on every row)."""
    return pa.scalar(orjson.dumps(value).decode(), pa.string())


def concat(*parts: Text) -> Text:
    """Parts joined end to end; null when any part is null."""
    return pc.binary_join_element_wise(*parts, "")


def join_present(parts: list[Text], separator: str, rows: int) -> pa.Array:
    """The non-null parts of each row joined by ``separator``; "" when none is present.

    pyarrow 26 drops the rows whose parts are *all* null from the result of
    ``binary_join_element_wise(..., null_handling="skip")`` (the output comes out shorter than the input), so
    on such rows the first part is made "" first. (Slicing off a leading separator instead would copy every
    long text once more: about as slow as building it.)
    """
    parts = list(parts)
    arrays = [part for part in parts if isinstance(part, pa.Array)]
    if arrays and len(arrays) == len(parts):
        nothing = pc.is_null(arrays[0])
        for part in arrays[1:]:
            nothing = pc.and_(nothing, pc.is_null(part))
        if pc.any(nothing).as_py():
            parts[0] = pc.if_else(nothing, "", parts[0])
    joined = pc.binary_join_element_wise(*parts, separator, null_handling="skip")
    if isinstance(joined, pa.Scalar):
        return pa.repeat(joined, rows)
    return joined


def null_if_empty(texts: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(texts, ""), pa.scalar(None, pa.string()), texts)


def needs_escape(values: pa.Array) -> bool:
    return bool(len(values)) and bool(pc.any(pc.match_substring_regex(values, _NEEDS_ESCAPE)).as_py())


def string(values: pa.Array, prefix: str = "") -> pa.Array:
    """Strings as JSON string literals after ``prefix`` (null stays null)."""
    if needs_escape(values):
        # Rare (quotes, backslashes, line breaks in a review): let orjson write exactly what it writes.
        literals = pa.array([None if v is None else orjson.dumps(v).decode() for v in values.to_pylist()], pa.string())
        return concat(prefix, literals) if prefix else literals
    return concat(prefix + '"', values, '"')


def integer(values: pa.Array) -> pa.Array:
    return pc.cast(values, pa.string())


def boolean(values: pa.Array) -> pa.Array:
    return pc.if_else(values, "true", "false")


def number(values: pa.Array) -> pa.Array:
    """Floats as orjson writes them (its shortest round-trip form differs from Arrow's cast to text)."""
    return pa.array([None if v is None else orjson.dumps(v).decode() for v in values.to_pylist()], pa.string())


def major_units(minor: pa.Array, digits: pa.Array) -> pa.Array:
    """Integer minor units as the JSON number of major units that the per-row path writes.

    The per-row path writes an int when the currency has no minor unit (``1250000``) and otherwise the float
    ``minor / 10**digits``, which orjson writes in its shortest form: ``12.5``, ``12.0``, ``0.05`` — the decimal
    text itself, for any amount below 10**15 minor units. Built here from the integer digits, so no float is
    ever rounded on the way.
    """
    as_text = pc.cast(pc.abs(minor), pa.string())
    sign = pc.if_else(pc.less(minor, 0), "-", "")
    result = pc.cast(minor, pa.string())
    for exp in sorted({d for d in digits.to_pylist() if d}):
        padded = pc.utf8_lpad(as_text, exp + 1, "0")
        whole = pc.utf8_slice_codeunits(padded, 0, -exp)
        fraction = pc.utf8_rtrim(pc.utf8_slice_codeunits(padded, -exp), "0")
        fraction = pc.if_else(pc.equal(fraction, ""), "0", fraction)
        result = pc.if_else(pc.equal(digits, exp), concat(sign, whole, ".", fraction), result)
    return result
