"""Reading a tracking request's body: gzip or plain, never past the request limit, then JSON.

The limit is measured after decompression, and inflation stops at the limit, so a small gzip bomb costs no
more memory than the limit itself.
"""

from __future__ import annotations

import zlib
from typing import Any

import orjson


class BodyError(Exception):
    """A request that cannot be read as a whole: HTTP 400 with ``code`` and ``message``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def inflate(raw: bytes, content_encoding: str | None, limit: int) -> bytes:
    """The body's bytes after ``Content-Encoding`` (gzip/deflate or none), at most ``limit`` of them."""
    encoding = (content_encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        if len(raw) > limit:
            raise BodyError("request_too_large", f"the request body is over the limit of {limit} bytes")
        return raw
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise BodyError("unsupported_encoding", f"Content-Encoding {encoding!r} is not supported (use gzip)")
    # wbits 32+15: accept a gzip or zlib header, as clients differ in what they call "deflate".
    inflater = zlib.decompressobj(wbits=47)
    try:
        data = inflater.decompress(raw, limit + 1)
        if len(data) > limit or inflater.unconsumed_tail:
            raise BodyError("request_too_large", f"the request body inflates past the limit of {limit} bytes")
        data += inflater.flush()
    except zlib.error as exc:
        raise BodyError("bad_gzip", f"the request body is not valid {encoding}: {exc}") from None
    if len(data) > limit:
        raise BodyError("request_too_large", f"the request body inflates past the limit of {limit} bytes")
    if not inflater.eof:
        raise BodyError("bad_gzip", f"the request body is a truncated {encoding} stream")
    return data


def parse_json_object(data: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise BodyError("invalid_json", f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise BodyError("invalid_json", "the request body must be a JSON object")
    return value
