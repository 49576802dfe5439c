"""The Segment-compatible tracking API: ``POST /v1/{identify,track,page,screen,group,alias,batch,import}``.

Existing analytics SDKs send here unchanged: the write key is the HTTP basic-auth user (or ``writeKey`` in the
body), bodies may be gzip. A request that cannot be read as a whole gets 400 ``{"code", "message"}``; inside a
readable batch each event stands alone, and the 200 answer counts what was accepted and rejected. The answer is
sent only after the accepted events are durable.
"""

from __future__ import annotations

import base64
import binascii

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from c360._crashpoints import crashpoint
from c360.collect.batch import messages_of
from c360.collect.body import BodyError, inflate, parse_json_object
from c360.collect.service import Collector
from c360.errors import AuthError

router = APIRouter(prefix="/v1", tags=["tracking"])

_DESCRIPTION = (
    "Segment-compatible. Auth: HTTP basic with the write key as user name and an empty password, or `writeKey` "
    "in the body. Body: JSON, optionally gzip (`Content-Encoding: gzip`). Answers 200 "
    '`{"success": true, "accepted": N, "rejected": M, "duplicates": D, "errors": [...]}` once the accepted events '
    "are durable; 400 `{code, message}` for a body that cannot be read; 401 for an unknown key; 429 with "
    "`Retry-After` when the log's queue is full."
)


def _basic_user(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise AuthError("the tracking API takes HTTP basic auth with the write key as the user name")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise AuthError("the Authorization header is not valid basic auth") from None
    return decoded.partition(":")[0] or None


async def _read_body(request: Request, limit: int) -> bytes:
    """The raw body, refusing to hold more than ``limit`` bytes of it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise BodyError("request_too_large", f"the request body is over the limit of {limit} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyError("request_too_large", f"the request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def _handle(request: Request, endpoint: str) -> Response:
    collector: Collector = request.app.state.collector
    settings = collector.ws.settings
    try:
        key = _basic_user(request)
        if key is not None:
            source = collector.source_for(key)  # a wrong header key is 401 before the body is read
        raw = await _read_body(request, settings.max_request_bytes)
        body = parse_json_object(inflate(raw, request.headers.get("content-encoding"), settings.max_request_bytes))
        if key is None:
            body_key = body.get("writeKey")
            source = collector.source_for(body_key if isinstance(body_key, str) else None)
        messages = messages_of(body, endpoint, max_events=settings.max_batch_events)
    except BodyError as exc:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=400)
    except AuthError as exc:
        headers = {"WWW-Authenticate": 'Basic realm="c360 tracking"'}
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=401, headers=headers)
    crashpoint("api.after_read")
    client_ip = request.client.host if request.client else None
    answer = await collector.ingest(messages, source=source, client_ip=client_ip)
    crashpoint("api.before_answer")
    return JSONResponse(answer.as_json())


def _route(endpoint: str) -> None:
    async def handler(request: Request) -> Response:
        return await _handle(request, endpoint)

    handler.__name__ = f"tracking_{endpoint}"
    summary = f"Send {'a batch of messages' if endpoint in ('batch', 'import') else f'a {endpoint} message'}"
    router.add_api_route(f"/{endpoint}", handler, methods=["POST"], summary=summary, description=_DESCRIPTION)


for _endpoint in ("identify", "track", "page", "screen", "group", "alias", "batch", "import"):
    _route(_endpoint)
