"""Messages of a request, and the server-side enrichment of their context."""

import pytest

from c360.collect.batch import messages_of
from c360.collect.body import BodyError
from c360.collect.enrich import campaign_from_url, enrich

IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.4 Mobile/15E148 Safari/604.1"
)


def test_single_endpoint_sets_the_type_and_drops_the_write_key() -> None:
    [message] = messages_of({"type": "page", "userId": "u", "writeKey": "k"}, "track", max_events=10)
    assert message == {"type": "track", "userId": "u"}


def test_batch_merges_shared_context_and_integrations_item_wins() -> None:
    body = {
        "batch": [
            {"type": "track", "context": {"ip": "1.1.1.1"}},
            {"type": "page"},
            "not an object",
        ],
        "context": {"library": {"name": "x"}, "ip": "9.9.9.9"},
        "integrations": {"All": False},
    }
    first, second, third = messages_of(body, "batch", max_events=10)
    assert first["context"] == {"library": {"name": "x"}, "ip": "1.1.1.1"}
    assert second["context"] == {"library": {"name": "x"}, "ip": "9.9.9.9"}
    assert first["integrations"] == second["integrations"] == {"All": False}
    assert third == "not an object"  # left for the per-event check to reject
    assert first["context"] is not second["context"]


@pytest.mark.parametrize(("body", "code"), [({"batch": "x"}, "not_a_batch"), ({}, "not_a_batch")])
def test_not_a_batch(body: dict, code: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(BodyError) as caught:
        messages_of(body, "batch", max_events=10)
    assert caught.value.code == code


def test_batch_over_the_event_limit() -> None:
    with pytest.raises(BodyError) as caught:
        messages_of({"batch": [{}] * 11}, "import", max_events=10)
    assert caught.value.code == "batch_too_large"


def test_user_agent_is_parsed_into_browser_os_device() -> None:
    message = {"context": {"userAgent": IPHONE}}
    enrich(message, client_ip=None)
    context = message["context"]
    assert context["browser"] == {"name": "Mobile Safari", "version": "17"}
    assert context["os"] == {"name": "iOS", "version": "17.4"}
    assert context["device"]["manufacturer"] == "Apple"


def test_client_values_win_and_the_callers_dict_is_untouched() -> None:
    original = {"userAgent": IPHONE, "os": {"name": "Custom"}}
    message = {"context": original}
    enrich(message, client_ip="10.0.0.1")
    assert message["context"]["os"] == {"name": "Custom"}
    assert original == {"userAgent": IPHONE, "os": {"name": "Custom"}}


def test_ip_only_when_direct() -> None:
    direct = {"context": {"direct": True}}
    enrich(direct, client_ip="203.0.113.5")
    assert direct["context"]["ip"] == "203.0.113.5"
    relayed = {"context": {}}
    enrich(relayed, client_ip="203.0.113.5")
    assert "ip" not in relayed["context"]
    nothing: dict = {}  # type: ignore[type-arg]
    enrich(nothing, client_ip="203.0.113.5")
    assert nothing == {}


def test_utm_from_the_page_url() -> None:
    message = {"context": {"page": {"url": "https://shop.vn/ao?utm_source=zalo&utm_medium=oa&utm_campaign=tet-2026"}}}
    enrich(message, client_ip=None)
    assert message["context"]["campaign"] == {"source": "zalo", "medium": "oa", "name": "tet-2026"}
    given = {"context": {"campaign": {"name": "mine"}, "page": {"url": "https://x/?utm_source=a"}}}
    enrich(given, client_ip=None)
    assert given["context"]["campaign"] == {"name": "mine"}


def test_campaign_from_odd_urls() -> None:
    assert campaign_from_url("not a url") == {}
    assert campaign_from_url("https://[bad/?utm_source=x") == {}
    assert campaign_from_url("/p?utm_term=áo+dài&utm_content=banner") == {"term": "áo dài", "content": "banner"}


def test_a_context_that_is_not_an_object_is_left_as_sent() -> None:
    message = {"context": "weird"}
    enrich(message, client_ip="1.2.3.4")
    assert message == {"context": "weird"}
