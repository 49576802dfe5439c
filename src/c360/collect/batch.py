"""From a parsed request body to the list of messages it carries."""

from __future__ import annotations

from typing import Any

from c360.collect.body import BodyError

SINGLE_TYPES = ("identify", "track", "page", "screen", "group", "alias")


def messages_of(body: dict[str, Any], endpoint: str, *, max_events: int) -> list[Any]:
    """The messages of a request to ``/v1/<endpoint>``.

    A single-message endpoint's body is the message; its ``type`` is the endpoint's. A batch's top-level
    ``context`` and ``integrations`` merge into each item (the item's own keys win).
    """
    if endpoint in SINGLE_TYPES:
        message = dict(body)
        message.pop("writeKey", None)
        message["type"] = endpoint
        return [message]
    items = body.get("batch")
    if not isinstance(items, list):
        raise BodyError("not_a_batch", "a batch request needs a `batch` array of messages")
    if len(items) > max_events:
        raise BodyError("batch_too_large", f"the batch holds {len(items)} events; the limit is {max_events}")
    shared_context = body.get("context")
    shared_integrations = body.get("integrations")
    # The SDKs put `sentAt` on the batch, not on its items: without it no clock skew could be corrected.
    sent_at = body.get("sentAt")
    if not isinstance(shared_context, dict) and not isinstance(shared_integrations, dict) and sent_at is None:
        return items
    merged = []
    for item in items:
        if isinstance(item, dict):
            item = dict(item)
            for key, shared in (("context", shared_context), ("integrations", shared_integrations)):
                if isinstance(shared, dict):
                    own = item.get(key)
                    item[key] = {**shared, **own} if isinstance(own, dict) else dict(shared)
            if sent_at is not None and item.get("sentAt") is None:
                item["sentAt"] = sent_at
        merged.append(item)
    return merged
