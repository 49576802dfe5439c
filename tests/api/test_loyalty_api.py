"""`/v1/loyalty`: members, orders, refunds, redemptions, vouchers, corrections, the schedule and the report, through
the real app; every refusal answers JSON that says why and leaves the balances as they were."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from c360.services.processing import processor_for
from c360.store.schema import loyalty_entries, loyalty_members, loyalty_redemptions
from c360.workspace import Workspace
from tests.api.conftest import TestClient, bearer, client_for, new_key
from tests.identity_rows import AN, AN_OLDER, BICH, HELD_PHONE, node_profile, write_identity_rows

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "c360" / "loyalty" / "example.yaml"
NOW = dt.datetime(2026, 3, 10, 5, tzinfo=dt.UTC)  # in the Skincare month: x2 on Chăm sóc da
AN_EMAIL = "email:annguyen@gmail.com"
ORDER: dict[str, Any] = {
    "source": "pos",
    "order_id": "A1",
    "member": AN_EMAIL,
    "timestamp": "2026-03-10T11:00:00+07:00",
    "currency": "VND",
    "total": 1_280_000,
    "shipping": 30_000,
    "tax": 0,
    "products": [
        {"sku": "CS1", "category": "Chăm sóc da", "quantity": 1, "price": 500_000},
        {"sku": "AT1", "category": "Áo thun", "quantity": 2, "price": "375000"},
    ],
}


def write_program(ws: Workspace, text: str | None = None) -> None:
    (ws.path / "loyalty.yaml").write_text(
        text if text is not None else EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8"
    )


@pytest.fixture
def ws(workspace: Workspace) -> Workspace:
    write_identity_rows(workspace.store)
    write_program(workspace)
    return workspace


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def api(ws: Workspace, clock: Clock) -> Iterator[TestClient]:
    with client_for(ws.path) as client:
        client.app.state.loyalty_clock = clock  # type: ignore[attr-defined]
        yield client


@pytest.fixture
def read(ws: Workspace) -> dict[str, str]:
    return bearer(new_key(ws, "read"))


@pytest.fixture
def write(ws: Workspace) -> dict[str, str]:
    return bearer(new_key(ws, "write"))


@pytest.fixture
def admin(ws: Workspace) -> dict[str, str]:
    return bearer(new_key(ws, "admin"))


def books(ws: Workspace) -> dict[str, Any]:
    """Everything a refused request must leave alone: every member's balances, the entries, the redemptions."""
    with ws.store.read() as conn:
        members = {row.member_id: tuple(row)[1:] for row in conn.execute(select(loyalty_members))}
        entries = conn.execute(select(func.count()).select_from(loyalty_entries)).scalar_one()
        redemptions = [tuple(r) for r in conn.execute(select(loyalty_redemptions).order_by(loyalty_redemptions.c.id))]
    return {"members": members, "entries": entries, "redemptions": redemptions}


def refused(response: Any, status: int, code: str, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    for word in words:
        assert word in body["message"], body
    return body


def enrol(api: TestClient, write: dict[str, str], member: str = AN_EMAIL) -> dict[str, Any]:
    response = api.post("/v1/loyalty/members", json={"member": member}, headers=write)
    assert response.status_code in (200, 201), response.text
    result: dict[str, Any] = response.json()
    return result


def gift(api: TestClient, admin: dict[str, str], member: str, points: int, key: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"member": member, "points": points, "reason": "goodwill"}
    if key:
        body["idempotency_key"] = key
    response = api.post("/v1/loyalty/adjustments", json=body, headers=admin)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def state(api: TestClient, read: dict[str, str], member: str = AN) -> dict[str, Any]:
    response = api.get(f"/v1/loyalty/members/{quote(member, safe='')}", headers=read)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


# --- the routes, their keys and their documentation ---------------------------------------------------------------
ROUTES = [
    ("post", "/v1/loyalty/members", "write"),
    ("get", "/v1/loyalty/members/prof_an", "read"),
    ("post", "/v1/loyalty/orders", "write"),
    ("post", "/v1/loyalty/refunds", "write"),
    ("post", "/v1/loyalty/redemptions", "write"),
    ("post", "/v1/loyalty/redemptions/1/cancel", "write"),
    ("get", "/v1/loyalty/vouchers/V-X", "read"),
    ("post", "/v1/loyalty/vouchers/V-X/spend", "write"),
    ("post", "/v1/loyalty/adjustments", "admin"),
    ("post", "/v1/loyalty/transfers", "admin"),
    ("get", "/v1/loyalty/rewards", "read"),
    ("post", "/v1/loyalty/run-schedule", "admin"),
    ("get", "/v1/loyalty/reports/summary", "read"),
]
LOWER = {"write": "read", "admin": "write"}


def test_every_route_needs_a_key_with_its_scope(ws: Workspace, api: TestClient) -> None:
    before = books(ws)
    for method, path, scope in ROUTES:
        response = api.request(method, path, headers={}, json={})
        refused(response, 401, "unauthorized")
        if scope in LOWER:
            response = api.request(method, path, headers=bearer(new_key(ws, LOWER[scope])), json={})
            refused(response, 403, "forbidden")
    assert books(ws) == before


def test_the_routes_are_in_the_openapi_document_with_bearer_security(api: TestClient) -> None:
    spec = api.get("/openapi.json").json()
    for method, path, _scope in ROUTES:
        documented = path.replace("prof_an", "{member}").replace("/1/", "/{redemption_id}/").replace("V-X", "{code}")
        operation = spec["paths"][documented][method]
        assert operation["tags"] == ["loyalty"]
        assert operation.get("security"), (method, documented)
    order = spec["components"]["schemas"]["PosOrder"]
    assert set(order["required"]) >= {"source", "order_id", "member", "timestamp", "currency", "total"}
    assert order["additionalProperties"] is False


# --- members ---------------------------------------------------------------------------------------------------------
def test_enrol_by_identifier_and_read_the_state_by_every_name(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]
) -> None:
    response = api.post("/v1/loyalty/members", json={"member": AN_EMAIL, "birth_month": 7}, headers=write)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["member_id"] == AN
    assert created["profile_id"] == AN
    assert created["points"] == {"pending": 0, "active": 0, "redeemed": 0, "expired": 0, "reversed": 0, "debt": 0}
    assert created["tier"]["name"] == "Member"
    assert created["tier"]["next"] == "Silver"
    assert created["tier"]["spend_to_next"] == 5_000_000
    assert created["expiring"] == {"30d": 0, "60d": 0, "90d": 0}
    assert created["history"] == []

    again = api.post("/v1/loyalty/members", json={"member": AN}, headers=write)
    assert again.status_code == 200  # a member already: the same member, unchanged
    assert again.json()["member_id"] == AN
    with ws.store.read() as conn:
        assert conn.execute(select(func.count()).select_from(loyalty_members)).scalar_one() == 1
        assert conn.execute(select(loyalty_members.c.birth_month)).scalar_one() == 7

    for name in (AN, AN_EMAIL, "loyalty_card:VIP-0001", "phone:0912 345 678", AN_OLDER, "user_id:u-an"):
        assert state(api, read, name)["member_id"] == AN, name
    # Through the path, an identifier may also be sent as it is, not encoded.
    assert api.get(f"/v1/loyalty/members/{AN_EMAIL}", headers=read).json()["member_id"] == AN


def test_the_history_pages_with_reasons(
    api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    for i in range(3):
        gift(api, admin, AN, 10 * (i + 1))
    full = state(api, read)
    assert [(h["kind"], h["points"]) for h in full["history"]] == [("adjust", 30), ("adjust", 20), ("adjust", 10)]
    assert all(h["reason"] == "manual adjustment: goodwill" for h in full["history"])
    page = api.get(f"/v1/loyalty/members/{AN}", params={"limit": 1, "offset": 1}, headers=read).json()
    assert [h["points"] for h in page["history"]] == [20]
    assert full["expiring"] == {"30d": 0, "60d": 0, "90d": 0}  # adjusted in March 2026: they expire in 2027
    refused(api.get(f"/v1/loyalty/members/{AN}", params={"limit": 0}, headers=read), 422, "invalid_input", "limit")


def test_unknown_and_ambiguous_members(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]
) -> None:
    before = books(ws)
    refused(api.post("/v1/loyalty/members", json={"member": "prof_nobody"}, headers=write), 404, "not_found")
    refused(
        api.post("/v1/loyalty/members", json={"member": f"phone:{HELD_PHONE}"}, headers=write),
        422,
        "invalid_input",
        "member",
        "more than one profile",
    )
    refused(
        api.post("/v1/loyalty/members", json={"member": "fax:123"}, headers=write),
        422,
        "invalid_input",
        "member",
        "unknown identifier type",
    )
    # A profile that exists but is not a member.
    refused(api.get(f"/v1/loyalty/members/{BICH}", headers=read), 404, "not_found", "not a loyalty member")
    refused(api.get("/v1/loyalty/members/email%3Anobody%40x.vn", headers=read), 404, "not_found")
    assert books(ws) == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "member"),
        ({"member": AN, "birth_month": 13}, "birth_month"),
        ({"member": AN, "nickname": "An"}, "nickname"),
        ({"member": ""}, "member"),
        ({"member": AN, "referral_code": "NOPE1234"}, "referral_code"),
    ],
)
def test_a_malformed_enrolment_names_the_field(
    ws: Workspace, api: TestClient, write: dict[str, str], body: dict[str, Any], field: str
) -> None:
    before = books(ws)
    answer = refused(api.post("/v1/loyalty/members", json=body, headers=write), 422, "invalid_input", field)
    assert answer["message"].startswith(field)
    assert books(ws) == before


def test_a_referral_code(api: TestClient, write: dict[str, str]) -> None:
    code = enrol(api, write)["referral_code"]
    response = api.post("/v1/loyalty/members", json={"member": BICH, "referral_code": code.lower()}, headers=write)
    assert response.status_code == 201, response.text


def _member_rows(ws: Workspace) -> list[tuple[str, str, int | None]]:
    with ws.store.read() as conn:
        return [
            (r.member_id, r.profile_id, r.birth_month)
            for r in conn.execute(select(loyalty_members).order_by(loyalty_members.c.member_id))
        ]


def test_a_new_customer_enrols_by_phone_through_the_event_log(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]
) -> None:
    """No profile has the phone yet: the enrolment is logged (202), and once the processor has stitched it the
    identifier's new profile is the member; asking again (a till's retry) enrols no one twice."""
    before = _member_rows(ws)
    logged = ws.log.count()
    body = {"member": "phone:0933 456 789", "birth_month": 5}
    first = api.post("/v1/loyalty/members", json=body, headers=write)
    assert first.status_code == 202, first.text
    answer = first.json()
    assert answer["status"] == "pending"
    assert answer["identifier"] == {"type": "phone", "value": "+84933456789"}
    retry = api.post("/v1/loyalty/members", json={"member": "phone:+84933456789"}, headers=write)
    assert retry.status_code == 202
    assert ws.log.count() == logged + 2  # both durable before the answers
    assert _member_rows(ws) == before  # enrolled only once stitched
    refused(api.get("/v1/loyalty/members/phone%3A0933456789", headers=read), 404, "not_found")

    processor_for(ws).run_until_idle()
    member = state(api, read, "phone:0933456789")
    added = sorted(set(_member_rows(ws)) - set(before))
    assert added == [(member["member_id"], member["profile_id"], 5)]
    phone_profile = node_profile(ws.store, "phone", "+84933456789")
    assert member["profile_id"] == phone_profile
    again = api.post("/v1/loyalty/members", json={"member": "phone:0933456789"}, headers=write)
    assert again.status_code == 200
    assert again.json()["member_id"] == member["member_id"]
    assert len(_member_rows(ws)) == len(before) + 1


def test_a_new_customer_with_a_bad_referral_code_or_identifier_is_refused_before_logging(
    ws: Workspace, api: TestClient, write: dict[str, str]
) -> None:
    logged = ws.log.count()
    answer = refused(
        api.post("/v1/loyalty/members", json={"member": "email:new@x.vn", "referral_code": "NOPE1234"}, headers=write),
        422,
        "invalid_input",
        "referral_code",
    )
    assert answer["message"].startswith("referral_code")
    refused(
        api.post("/v1/loyalty/members", json={"member": "phone:12"}, headers=write),
        422,
        "invalid_input",
        "not a valid phone number",
    )
    assert ws.log.count() == logged


# --- orders and refunds ----------------------------------------------------------------------------------------------
def test_an_order_from_the_till_earns_once(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]
) -> None:
    response = api.post("/v1/loyalty/orders", json=ORDER, headers=write)
    assert response.status_code == 200, response.text
    earned = response.json()
    # 1,250,000 VND without shipping: 125 points, and x2 on the 500,000 VND of skincare: +50.
    assert (earned["member_id"], earned["points"], earned["duplicate"]) == (AN, 175, False)
    assert "Skincare month" in earned["reason"]
    assert earned["detail"]["eligible"] == 1_250_000
    again = api.post("/v1/loyalty/orders", json=ORDER, headers=write).json()
    assert (again["points"], again["duplicate"], again["entry_id"]) == (175, True, earned["entry_id"])
    after = state(api, read)
    assert after["points"]["pending"] == 175
    assert after["available"] == 0
    assert after["history"][0]["reason"] == earned["reason"]


def test_an_order_in_major_units_with_decimals(api: TestClient, write: dict[str, str]) -> None:
    body = {**ORDER, "order_id": "A2", "total": "1280000.4", "shipping": 30_000.0, "products": []}
    assert api.post("/v1/loyalty/orders", json=body, headers=write).json()["points"] == 125


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"timestamp": None}, "timestamp"),
        ({"timestamp": "2026-03-10T11:00:00"}, "timestamp"),  # no UTC offset
        ({"total": -1}, "total"),
        ({"total": "lots"}, "total"),
        ({"currency": "DONG"}, "currency"),
        ({"products": [{"sku": "X", "price": -5}]}, "products.0.price"),
        ({"products": [{"sku": "X", "price": 5, "colour": "red"}]}, "products.0.colour"),
        ({"products": [{"sku": "X", "price": 5, "quantity": 0}]}, "products.0.quantity"),
        ({"channel": "web"}, "channel"),
        ({"member": None}, "member"),
    ],
)
def test_a_malformed_order_names_the_field_and_earns_nothing(
    ws: Workspace, api: TestClient, write: dict[str, str], change: dict[str, Any], field: str
) -> None:
    body = {k: v for k, v in {**ORDER, **change}.items() if v is not None}  # None: the field left out
    before = books(ws)
    answer = refused(api.post("/v1/loyalty/orders", json=body, headers=write), 422, "invalid_input", field)
    assert any(error["field"] == field for error in answer["errors"]), answer
    assert books(ws) == before


def test_an_order_for_an_unknown_member_enrols_no_one(ws: Workspace, api: TestClient, write: dict[str, str]) -> None:
    before = books(ws)
    body = {**ORDER, "member": "email:nobody@x.vn"}
    refused(api.post("/v1/loyalty/orders", json=body, headers=write), 404, "not_found", "nobody@x.vn")
    assert books(ws) == before


def test_refunds_take_points_back(ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]) -> None:
    api.post("/v1/loyalty/orders", json=ORDER, headers=write)
    part = api.post(
        "/v1/loyalty/refunds",
        json={"source": "pos", "order_id": "A1", "refund_id": "r1", "amount": 640_000},
        headers=write,
    )
    assert part.status_code == 200, part.text
    assert part.json()["points"] == 87
    assert "640,000 VND" in part.json()["reason"]
    again = api.post(
        "/v1/loyalty/refunds",
        json={"source": "pos", "order_id": "A1", "refund_id": "r1", "amount": 640_000},
        headers=write,
    ).json()
    assert again["duplicate"] is True
    items = api.post(
        "/v1/loyalty/refunds",
        json={
            "source": "pos",
            "order_id": "A1",
            "refund_id": "r2",
            "products": [{"sku": "CS1", "quantity": 1}],
            "timestamp": "2026-03-11T09:00:00+07:00",
        },
        headers=write,
    ).json()
    # Refunded so far 625,000 + the skincare line's 500,000 of 1,250,000 eligible: 157 of the 175 points, 87 taken.
    assert items["points"] == 70
    assert state(api, read)["points"]["pending"] == 175 - 87 - 70
    before = books(ws)
    refused(
        api.post("/v1/loyalty/refunds", json={"source": "pos", "order_id": "NOPE", "refund_id": "r"}, headers=write),
        404,
        "not_found",
        "NOPE",
    )
    refused(
        api.post(
            "/v1/loyalty/refunds",
            json={"source": "pos", "order_id": "A1", "refund_id": "r3", "products": [{"sku": "CS1"}]},
            headers=write,
        ),
        422,
        "invalid_input",
        "products.0.quantity",
    )
    assert books(ws) == before


# --- redemptions, rewards and vouchers -------------------------------------------------------------------------------
def test_not_enough_points_is_refused_and_changes_nothing(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str]
) -> None:
    api.post("/v1/loyalty/orders", json=ORDER, headers=write)  # 175 points, pending for 14 days
    before = books(ws)
    body = {"member": AN_EMAIL, "reward_id": "voucher-100k"}
    refused(
        api.post("/v1/loyalty/redemptions", json=body, headers=write),
        409,
        "refused",
        "not enough points",
        "175 more are pending",
    )
    assert books(ws) == before
    assert state(api, read)["points"]["redeemed"] == 0


def test_redeem_a_voucher_spend_it_and_cancel(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    gift(api, admin, AN, 5000)
    body = {"member": AN_EMAIL, "reward_id": "voucher-100k", "idempotency_key": "k1"}
    response = api.post("/v1/loyalty/redemptions", json=body, headers=write)
    assert response.status_code == 201, response.text
    redeemed = response.json()
    assert (redeemed["points"], redeemed["duplicate"]) == (2000, False)
    (voucher,) = redeemed["redemptions"]
    assert voucher["value"] == 100_000
    assert voucher["voucher_code"].startswith("V-")
    replay = api.post("/v1/loyalty/redemptions", json=body, headers=write)
    assert replay.status_code == 200
    assert replay.json()["redemptions"] == redeemed["redemptions"]
    assert state(api, read)["points"]["active"] == 3000

    code = voucher["voucher_code"]
    shown = api.get(f"/v1/loyalty/vouchers/{code.lower()}", headers=read).json()
    assert (shown["status"], shown["usable"], shown["member_id"], shown["currency"]) == ("issued", True, AN, "VND")
    spent = api.post(f"/v1/loyalty/vouchers/{code}/spend", json={"order_ref": "pos:B7"}, headers=write)
    assert spent.status_code == 200, spent.text
    assert (spent.json()["status"], spent.json()["usable"], spent.json()["spent_order"]) == ("spent", False, "pos:B7")
    again = api.post(f"/v1/loyalty/vouchers/{code}/spend", json={"order_ref": "pos:B7"}, headers=write)
    assert again.status_code == 200  # the same order twice is the same use

    before = books(ws)
    refused(
        api.post(f"/v1/loyalty/vouchers/{code}/spend", json={"order_ref": "pos:B8"}, headers=write),
        409,
        "refused",
        "already spent on pos:B7",
    )
    rid = voucher["redemption_id"]
    refused(api.post(f"/v1/loyalty/redemptions/{rid}/cancel", headers=write), 409, "refused", "already spent")
    # A spent voucher cannot pay an order either; the order earns nothing and is not recorded.
    refused(
        api.post("/v1/loyalty/orders", json={**ORDER, "order_id": "B9", "voucher_code": code}, headers=write),
        409,
        "refused",
        "already spent",
    )
    assert books(ws) == before

    # A second voucher, not spent: cancelling gives the points back, once.
    second = api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "voucher-100k"}, headers=write)
    rid2 = second.json()["redemptions"][0]["redemption_id"]
    assert state(api, read)["points"]["active"] == 1000
    cancelled = api.post(f"/v1/loyalty/redemptions/{rid2}/cancel", headers=write)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["points"] == 2000
    assert api.post(f"/v1/loyalty/redemptions/{rid2}/cancel", headers=write).json()["duplicate"] is True
    assert state(api, read)["points"]["active"] == 3000
    assert (
        api.get(f"/v1/loyalty/vouchers/{second.json()['redemptions'][0]['voucher_code']}", headers=read).json()[
            "status"
        ]
        == "cancelled"
    )


def test_a_voucher_pays_an_order(api: TestClient, write: dict[str, str], admin: dict[str, str]) -> None:
    enrol(api, write)
    gift(api, admin, AN, 2000)
    code = api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "voucher-100k"}, headers=write).json()[
        "redemptions"
    ][0]["voucher_code"]
    paid = api.post("/v1/loyalty/orders", json={**ORDER, "voucher_code": code}, headers=write).json()
    assert f"voucher {code} paid 100,000 VND" in paid["reason"]


def test_unknown_rewards_redemptions_and_vouchers(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    gift(api, admin, AN, 5000)
    before = books(ws)
    refused(
        api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "yacht"}, headers=write),
        404,
        "not_found",
        "yacht",
        "voucher-100k",
    )
    refused(
        api.post(
            "/v1/loyalty/redemptions", json={"member": "email:nobody@x.vn", "reward_id": "voucher-100k"}, headers=write
        ),
        404,
        "not_found",
    )
    refused(
        api.post(
            "/v1/loyalty/redemptions", json={"member": AN, "reward_id": "voucher-100k", "quantity": 0}, headers=write
        ),
        422,
        "invalid_input",
        "quantity",
    )
    refused(api.post("/v1/loyalty/redemptions", json={"member": AN}, headers=write), 422, "invalid_input", "reward_id")
    refused(api.post("/v1/loyalty/redemptions/999/cancel", headers=write), 404, "not_found", "999")
    refused(api.post("/v1/loyalty/redemptions/abc/cancel", headers=write), 422, "invalid_input", "redemption_id")
    refused(api.get("/v1/loyalty/vouchers/V-NOPE", headers=read), 404, "not_found", "V-NOPE")
    refused(api.post("/v1/loyalty/vouchers/V-NOPE/spend", json={"order_ref": "x"}, headers=write), 404, "not_found")
    refused(api.post("/v1/loyalty/vouchers/V-NOPE/spend", json={}, headers=write), 422, "invalid_input", "order_ref")
    assert books(ws) == before


def test_a_reward_out_of_stock(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    write_program(ws, EXAMPLE.read_text(encoding="utf-8").replace("stock: 200", "stock: 1"))
    for member in (AN, BICH):
        enrol(api, write, member)
        gift(api, admin, member, 2000)
    catalogue = api.get("/v1/loyalty/rewards", headers=read).json()
    tote = {r["reward_id"]: r for r in catalogue["rewards"]}["tote-bag"]
    assert (tote["stock"], tote["stock_left"], tote["points"], tote["voucher"]) == (1, 1, 1500, None)
    taken = api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "tote-bag"}, headers=write)
    assert taken.status_code == 201, taken.text
    assert taken.json()["redemptions"][0]["voucher_code"] is None
    before = books(ws)
    refused(
        api.post("/v1/loyalty/redemptions", json={"member": BICH, "reward_id": "tote-bag"}, headers=write),
        409,
        "refused",
        "out of stock",
    )
    assert books(ws) == before
    assert state(api, read, BICH)["points"]["active"] == 2000
    tote = {r["reward_id"]: r for r in api.get("/v1/loyalty/rewards", headers=read).json()["rewards"]}["tote-bag"]
    assert tote["stock_left"] == 0


def test_the_catalogue(api: TestClient, read: dict[str, str]) -> None:
    catalogue = api.get("/v1/loyalty/rewards", headers=read).json()
    assert catalogue["currency"] == "VND"
    rewards = {r["reward_id"]: r for r in catalogue["rewards"]}
    assert list(rewards) == ["voucher-100k", "voucher-500k", "tote-bag"]
    assert rewards["voucher-500k"]["voucher"] == {"value": 500_000, "currency": "VND", "valid_days": 90}
    assert (rewards["voucher-500k"]["stock_left"], rewards["voucher-500k"]["per_member"]) == (None, 2)
    assert rewards["tote-bag"]["stock_left"] == 200


# --- corrections and the schedule ------------------------------------------------------------------------------------
def test_adjustments(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    added = gift(api, admin, AN_EMAIL, 500, key="g1")
    assert (added["points"], added["reason"], added["duplicate"]) == (500, "manual adjustment: goodwill", False)
    assert gift(api, admin, AN, 500, key="g1")["duplicate"] is True
    removed = gift(api, admin, AN, -200)
    assert removed["points"] == -200
    assert state(api, read)["points"] == {
        "pending": 0, "active": 300, "redeemed": 0, "expired": 0, "reversed": 200, "debt": 0
    }  # fmt: skip
    before = books(ws)
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": AN, "points": -301, "reason": "x"}, headers=admin),
        409,
        "refused",
        "cannot remove 301 points",
    )
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": AN, "points": 0, "reason": "x"}, headers=admin),
        422,
        "invalid_input",
        "points",
    )
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": AN, "points": 5, "reason": "  "}, headers=admin),
        422,
        "invalid_input",
        "reason",
    )
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": AN, "points": 1.5, "reason": "x"}, headers=admin),
        422,
        "invalid_input",
        "points",
    )
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": BICH, "points": 5, "reason": "x"}, headers=admin),
        404,
        "not_found",
    )
    refused(
        api.post("/v1/loyalty/adjustments", json={"member": AN, "points": 5, "reason": "x"}, headers=write),
        403,
        "forbidden",
    )
    assert books(ws) == before


def test_transfers(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    enrol(api, write, BICH)
    gift(api, admin, AN, 1000)
    before = books(ws)
    body = {"from": AN_EMAIL, "to": "email:bich.tran@example.vn", "points": 400, "idempotency_key": "t1"}
    refused(api.post("/v1/loyalty/transfers", json=body, headers=admin), 409, "refused", "transfers are off")
    assert books(ws) == before

    write_program(ws, EXAMPLE.read_text(encoding="utf-8").replace("transfers: false", "transfers: true "))
    moved = api.post("/v1/loyalty/transfers", json=body, headers=admin)
    assert moved.status_code == 200, moved.text
    assert (moved.json()["member_id"], moved.json()["points"], moved.json()["detail"]) == (AN, 400, {"to": BICH})
    assert api.post("/v1/loyalty/transfers", json=body, headers=admin).json()["duplicate"] is True
    assert state(api, read)["points"]["active"] == 600
    assert state(api, read, BICH)["points"]["active"] == 400

    before = books(ws)
    refused(
        api.post("/v1/loyalty/transfers", json={**body, "points": 601, "idempotency_key": "t2"}, headers=admin),
        409,
        "refused",
        "cannot transfer 601 points",
    )
    refused(
        api.post("/v1/loyalty/transfers", json={**body, "to": AN, "idempotency_key": "t3"}, headers=admin),
        422,
        "invalid_input",
        "to",
    )
    refused(
        api.post("/v1/loyalty/transfers", json={**body, "points": -5}, headers=admin), 422, "invalid_input", "points"
    )
    refused(
        api.post("/v1/loyalty/transfers", json={"sender": AN, "to": BICH, "points": 5}, headers=admin),
        422,
        "invalid_input",
        "from",
    )
    refused(api.post("/v1/loyalty/transfers", json={**body, "to": "prof_nobody"}, headers=admin), 404, "not_found")
    assert books(ws) == before


def test_the_schedule_activates_points_after_the_return_window(
    api: TestClient, clock: Clock, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    api.post("/v1/loyalty/orders", json=ORDER, headers=write)
    first = api.post("/v1/loyalty/run-schedule", headers=admin).json()
    assert first == {"members": 1, "activated": 0, "expired": 0, "tier_changes": 0}
    clock.now = NOW + dt.timedelta(days=15)
    assert api.post("/v1/loyalty/run-schedule", headers=admin).json()["activated"] == 175
    assert api.post("/v1/loyalty/run-schedule", headers=admin).json()["activated"] == 0
    assert state(api, read)["points"]["active"] == 175
    assert state(api, read)["history"][0]["kind"] == "activate"
    # Thirteen months on, the points (earned in March 2026) have expired.
    clock.now = dt.datetime(2027, 4, 2, tzinfo=dt.UTC)
    assert api.post("/v1/loyalty/run-schedule", headers=admin).json()["expired"] == 175
    assert api.post("/v1/loyalty/run-schedule", headers=write).status_code == 403


# --- the report ------------------------------------------------------------------------------------------------------
def test_the_summary_report(
    api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    api.post("/v1/loyalty/orders", json=ORDER, headers=write)
    gift(api, admin, AN, 2000)
    api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "voucher-100k"}, headers=write)
    report = api.get("/v1/loyalty/reports/summary", params={"expiring_days": 400}, headers=read).json()
    assert report["members"] == {"active": 1, "merged": 0}
    points = report["points"]
    assert (points["issued"], points["pending"], points["active"], points["redeemed"]) == (2175, 175, 0, 2000)
    assert report["rates"]["redemption"] == round(2000 / 2175, 4)
    assert report["liability"]["amount"] == 175 * 500_000 // 9000
    assert report["liability"]["currency"] == "VND"
    assert report["tiers"]["distribution"]["Member"] == 1
    assert report["expiring"]["members"] == [
        {"member_id": AN, "points": 175, "earliest_expiry": "2027-03-31T17:00:00+00:00"}
    ]
    refused(api.get("/v1/loyalty/reports/summary", params={"limit": 0}, headers=read), 422, "invalid_input", "limit")


# --- the program file ------------------------------------------------------------------------------------------------
def test_a_missing_or_malformed_program_is_a_clear_error_that_changes_nothing(
    ws: Workspace, api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    enrol(api, write)
    gift(api, admin, AN, 3000)
    before = books(ws)
    program = ws.path / "loyalty.yaml"
    cases = [
        (None, "no loyalty program at"),
        ("name: X\nversions:\n  - effective_from: 2024-01-01\n    spend: {per: 0}\n", "versions.0.spend.per"),
        ("name: X\nversions:\n  - effective_from: 2024-01-01\n    spennd: {}\n", "versions.0.spennd: unknown key"),
        ("name: [unclosed\n", "is not valid YAML"),
    ]
    for text, words in cases:
        if text is None:
            program.unlink()
        else:
            program.write_text(text, encoding="utf-8")
        for method, path, headers, body in (
            ("get", f"/v1/loyalty/members/{AN}", read, None),
            ("post", "/v1/loyalty/orders", write, ORDER),
            ("post", "/v1/loyalty/redemptions", write, {"member": AN, "reward_id": "voucher-100k"}),
            ("post", "/v1/loyalty/run-schedule", admin, None),
            ("get", "/v1/loyalty/reports/summary", read, None),
        ):
            answer = refused(api.request(method, path, headers=headers, json=body), 500, "config_error", words)
            assert answer["message"].startswith("the loyalty program cannot be used"), answer
        # The key is checked before the program: no key is still 401, not the program's error.
        refused(api.get(f"/v1/loyalty/members/{AN}"), 401, "unauthorized")
        assert books(ws) == before
    write_program(ws)  # fixed: the next request reads the file again
    assert state(api, read)["points"]["active"] == 3000


def test_a_later_refund_never_gives_back_a_voucher_spent_again_since(
    api: TestClient, write: dict[str, str], read: dict[str, str], admin: dict[str, str]
) -> None:
    """Regression: a second refund of a fully refunded order used to reinstate its voucher although the voucher had
    been spent on another order since, so it could be spent a third time."""
    enrol(api, write)
    gift(api, admin, AN, 2000)
    code = api.post("/v1/loyalty/redemptions", json={"member": AN, "reward_id": "voucher-100k"}, headers=write).json()[
        "redemptions"
    ][0]["voucher_code"]
    api.post("/v1/loyalty/orders", json={**ORDER, "voucher_code": code}, headers=write)
    full = api.post("/v1/loyalty/refunds", json={"source": "pos", "order_id": "A1", "refund_id": "r1"}, headers=write)
    assert "can be used again" in full.json()["reason"]
    assert api.get(f"/v1/loyalty/vouchers/{code}", headers=read).json()["usable"] is True
    api.post("/v1/loyalty/orders", json={**ORDER, "order_id": "B1", "voucher_code": code}, headers=write)
    later = api.post(
        "/v1/loyalty/refunds", json={"source": "pos", "order_id": "A1", "refund_id": "r2", "amount": 1}, headers=write
    )
    assert later.status_code == 200, later.text
    assert "already given back" in later.json()["reason"]
    shown = api.get(f"/v1/loyalty/vouchers/{code}", headers=read).json()
    assert (shown["status"], shown["spent_order"], shown["usable"]) == ("spent", "pos:B1", False)


def test_a_store_held_by_a_long_write_is_503_with_retry_after_and_keeps_nothing(
    ws: Workspace, write: dict[str, str], clock: Clock
) -> None:
    """A large `c360 resolve` holds SQLite's write lock while it writes: past the wait, a POS order gets a 503 it
    can retry, not a 500, and nothing of it is kept."""
    with client_for(ws.path, store_busy_timeout_seconds=0.2) as api:
        api.app.state.loyalty_clock = clock  # type: ignore[attr-defined]
        enrol(api, write)
        before = books(ws)
        other = sqlite3.connect(make_url(ws.settings.resolved_store_url).database or "", isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            response = api.post("/v1/loyalty/orders", json=ORDER, headers=write)
            refused(response, 503, "store_busy", "busy")
            assert int(response.headers["Retry-After"]) > 0
            other.execute("COMMIT")
        finally:
            other.close()
        assert books(ws) == before
        retried = api.post("/v1/loyalty/orders", json=ORDER, headers=write)
        assert retried.status_code == 200, retried.text
