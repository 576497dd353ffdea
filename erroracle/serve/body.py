"""Reading request bodies within limits: size on the wire, size after inflating, JSON depth.

A compressed body is inflated incrementally with an output cap, so a small gzip bomb is refused
after at most ``max_inflated + 1`` bytes of output rather than after inflating all of it.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import AsyncIterator
from typing import Any

from erroracle.serve.problems import ApiError

__all__ = ["check_depth", "inflate", "parse_json", "read_limited"]

_GZIP_WBITS = 16 + zlib.MAX_WBITS


def _too_large(limit: int, what: str = "the request body") -> ApiError:
    return ApiError(413, "body_too_large", f"{what} is larger than the limit of {limit:,} bytes")


async def read_limited(
    chunks: AsyncIterator[bytes], content_length: str | None, max_bytes: int
) -> bytes:
    """The whole body, refusing early (413) when it is or becomes larger than ``max_bytes``."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise ApiError(400, "bad_request", "Content-Length is not a number") from None
        if declared > max_bytes:
            raise _too_large(max_bytes)
    parts, size = [], 0
    async for chunk in chunks:
        size += len(chunk)
        if size > max_bytes:
            raise _too_large(max_bytes)
        parts.append(chunk)
    return b"".join(parts)


def _inflate(data: bytes, wbits: int, max_inflated: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(data, max_inflated + 1)
    if len(out) > max_inflated:
        raise _too_large(max_inflated, "the decompressed body")
    if not inflater.eof:
        raise zlib.error("the compressed stream is truncated")
    return out


def inflate(data: bytes, encoding: str | None, max_inflated: int) -> bytes:
    """Undo ``Content-Encoding`` (identity, gzip, deflate), never past ``max_inflated`` bytes."""
    encoding = (encoding or "identity").strip().lower()
    if encoding in ("", "identity"):
        return data
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise ApiError(
            415, "unsupported_encoding",
            f"Content-Encoding {encoding!r} is not supported; use gzip, deflate or none",
        )
    # HTTP's "deflate" is zlib-wrapped, but some clients send a raw deflate stream.
    attempts = [_GZIP_WBITS] if "gzip" in encoding else [zlib.MAX_WBITS, -zlib.MAX_WBITS]
    for wbits in attempts:
        try:
            return _inflate(data, wbits, max_inflated)
        except zlib.error as exc:
            problem = exc
    raise ApiError(400, "bad_encoding", f"the body is not valid {encoding}: {problem}")


def check_depth(value: Any, max_depth: int) -> None:
    """Refuse (422) JSON nested deeper than ``max_depth`` containers, without recursion."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, depth = stack.pop()
        if depth > max_depth:
            raise ApiError(422, "too_deep", f"the JSON is nested deeper than {max_depth} levels")
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))


def parse_json(data: bytes, max_depth: int) -> Any:
    """Decode a UTF-8 JSON body with precise 400/422 answers."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(
            400, "bad_encoding", f"the body is not valid UTF-8 (byte {exc.start})"
        ) from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"the body is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}",
        ) from None
    except RecursionError:
        raise ApiError(
            422, "too_deep", f"the JSON is nested deeper than {max_depth} levels"
        ) from None
    check_depth(value, max_depth)
    return value
