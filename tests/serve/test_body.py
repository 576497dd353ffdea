import asyncio
import gzip
import zlib

import pytest

from erroracle.serve.body import check_depth, inflate, parse_json, read_limited
from erroracle.serve.problems import ApiError


async def _chunks(*parts: bytes):
    for part in parts:
        yield part


def _read(parts, length, limit):
    return asyncio.run(read_limited(_chunks(*parts), length, limit))


def test_read_limited_refuses_by_declared_length_and_by_streamed_size():
    assert _read([b"ab", b"cd"], "4", 4) == b"abcd"
    with pytest.raises(ApiError) as declared:
        _read([b"x"], "5000", 1024)
    assert declared.value.status == 413
    with pytest.raises(ApiError) as streamed:
        _read([b"x" * 600, b"x" * 600], None, 1024)  # a lying or absent Content-Length
    assert streamed.value.code == "body_too_large"
    with pytest.raises(ApiError, match="not a number"):
        _read([b""], "lots", 1024)


@pytest.mark.parametrize("encoding, packed", [
    ("gzip", gzip.compress(b'{"a": 1}')),
    ("deflate", zlib.compress(b'{"a": 1}')),
    ("deflate", zlib.compress(b'{"a": 1}')[2:-4]),  # raw deflate, as some clients send it
    (None, b'{"a": 1}'),
])
def test_inflate_undoes_each_encoding(encoding, packed):
    assert inflate(packed, encoding, 1024) == b'{"a": 1}'


def test_a_gzip_bomb_is_refused_without_inflating_it_all():
    bomb = gzip.compress(b"\0" * 200_000_000)
    assert len(bomb) < 250_000
    with pytest.raises(ApiError) as refused:
        inflate(bomb, "gzip", 1_000_000)
    assert refused.value.status == 413 and "decompressed" in refused.value.message


@pytest.mark.parametrize("body, encoding, status", [
    (b"plain", "gzip", 400),
    (gzip.compress(b"abc")[:-6], "gzip", 400),  # truncated
    (b"x", "br", 415),
])
def test_inflate_refuses_broken_or_unknown_encodings(body, encoding, status):
    with pytest.raises(ApiError) as refused:
        inflate(body, encoding, 1024)
    assert refused.value.status == status


def test_parse_json_names_the_problem():
    assert parse_json(b'{"a": [1, {"b": 2}]}', 8) == {"a": [1, {"b": 2}]}
    for body, code in [(b"{", "invalid_json"), (b"\xff", "bad_encoding"),
                       (b"[" * 100_000 + b"]" * 100_000, "too_deep")]:
        with pytest.raises(ApiError) as refused:
            parse_json(body, 32)
        assert refused.value.code == code


def test_check_depth_counts_containers():
    check_depth({"a": {"b": [1]}}, 3)
    with pytest.raises(ApiError):
        check_depth({"a": {"b": [[]]}}, 3)
    check_depth("scalar", 1)
