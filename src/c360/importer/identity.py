"""The messageId of an imported row: a hash of what the row is, so importing it again is a duplicate.

What goes in: the source, the kind, the row's own id and the JSON of its content (the message without the file,
the line and the export time — see importer.shapes). A changed row hashes differently and becomes a new event
whose newer timestamp wins; an unchanged row in a newer export is the same event. The version tag changes only
if this recipe does, which would make every row new once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

_RECIPE = b"c360.import/1"
SEPARATOR = b"\x1f"  # the unit separator: it does not occur in the ids and names it separates


def message_ids(source: str, kind: str, keyed_contents: Iterable[bytes]) -> list[str]:
    """The messageIds of rows given as ``record id + SEPARATOR + content JSON`` (built so by the caller, a
    column at a time)."""
    prefix = SEPARATOR.join((_RECIPE, source.encode(), kind.encode(), b""))
    sha256 = hashlib.sha256
    return ["imp-" + sha256(prefix + keyed).hexdigest()[:32] for keyed in keyed_contents]


def message_id(source: str, kind: str, record_id: str, content: bytes) -> str:
    return message_ids(source, kind, [record_id.encode() + SEPARATOR + content])[0]
