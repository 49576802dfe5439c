"""Reading tracking bodies: gzip within the limit, zip bombs stopped, JSON objects only."""

import gzip
import zlib

import pytest

from c360.collect.body import BodyError, inflate, parse_json_object


def test_plain_and_gzip_and_deflate() -> None:
    data = b'{"batch": []}'
    assert inflate(data, None, 100) == data
    assert inflate(gzip.compress(data), "gzip", 100) == data
    assert inflate(zlib.compress(data), "deflate", 100) == data


def test_plain_body_over_the_limit() -> None:
    with pytest.raises(BodyError) as caught:
        inflate(b"x" * 101, None, 100)
    assert caught.value.code == "request_too_large"


def test_gzip_that_inflates_past_the_limit_is_refused_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * 50_000_000)  # 50 MB of zeros in ~50 KB
    assert len(bomb) < 100_000
    with pytest.raises(BodyError) as caught:
        inflate(bomb, "gzip", 4 * 1024 * 1024)
    assert caught.value.code == "request_too_large"


def test_exactly_at_the_limit_is_fine() -> None:
    data = b"a" * 1000
    assert inflate(gzip.compress(data), "gzip", 1000) == data
    with pytest.raises(BodyError):
        inflate(gzip.compress(data + b"a"), "gzip", 1000)


@pytest.mark.parametrize(
    ("raw", "encoding", "code"),
    [
        (b"not gzip at all", "gzip", "bad_gzip"),
        (gzip.compress(b'{"a": 1}')[:-6], "gzip", "bad_gzip"),  # truncated stream
        (b"{}", "br", "unsupported_encoding"),
    ],
)
def test_unreadable_bodies(raw: bytes, encoding: str, code: str) -> None:
    with pytest.raises(BodyError) as caught:
        inflate(raw, encoding, 1000)
    assert caught.value.code == code


@pytest.mark.parametrize("text", [b"{bad", b"[1, 2]", b'"x"', b"", b"\xff\xfe"])
def test_json_object_only(text: bytes) -> None:
    with pytest.raises(BodyError) as caught:
        parse_json_object(text)
    assert caught.value.code == "invalid_json"


def test_json_object() -> None:
    assert parse_json_object('{"name": "Trần"}'.encode()) == {"name": "Trần"}
