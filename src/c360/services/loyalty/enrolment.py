"""Enrolling someone c360 has not met yet: a customer who signs up at a till with a phone number no source has sent.

Members are profiles, and profiles come from the identity graph: so an enrolment by an identifier that no profile
holds is recorded as an event, ``Loyalty Member Enrolled``, through the same durable log as every tracked event.
The event processor stitches its identifier into the graph (a new profile, or the one an earlier event in the log
already made) and the loyalty handler then enrols that profile. The enrolment is never lost (it is in the log before
anyone is answered) and never doubled (enrolling a member again changes nothing), and the profile is the one the
identity rules give, not one made up beside the graph.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from c360.errors import InvalidInput
from c360.identity.extract import TRAIT_IDENTIFIERS
from c360.services.ingest import to_record
from c360.services.loyalty.operations import checked_enrolment
from c360.services.profiles import normalised_identifier
from c360.store.types import utcnow

if TYPE_CHECKING:
    from c360.workspace import Workspace

ENROLLED: Final = "Loyalty Member Enrolled"
#: The source the enrolment events are logged under.
SOURCE: Final = "loyalty"
#: The identifier types an enrolment can start from: one the event carries in its context.traits, or the user id.
KINDS: Final = (*TRAIT_IDENTIFIERS, "user_id")


def enrols_later(identifier: str) -> bool:
    """Whether an enrolment by ``identifier`` that no profile holds can be logged for the processor to finish."""
    id_type, sep, id_value = identifier.strip().partition(":")
    return bool(sep) and id_type in KINDS and bool(id_value.strip())


@dataclass(frozen=True, slots=True)
class PendingEnrolment:
    message_id: str
    id_type: str
    id_value: str  # normalised, as the identity map keeps it


def enrolment_message(
    id_type: str, id_value: str, *, birth_month: int | None, referral_code: str | None, message_id: str
) -> dict[str, Any]:
    """The Segment track message that enrols the person ``id_type:id_value`` names."""
    properties: dict[str, Any] = {}
    if birth_month is not None:
        properties["birthMonth"] = birth_month
    if referral_code:
        properties["referralCode"] = referral_code
    message: dict[str, Any] = {
        "type": "track",
        "event": ENROLLED,
        "messageId": message_id,
        "properties": properties,
    }
    if id_type == "user_id":
        message["userId"] = id_value
    else:
        # Segment needs a user or an anonymous id; the person is the identifier in the traits.
        message["anonymousId"] = message_id
        message["context"] = {"traits": {TRAIT_IDENTIFIERS[id_type]: id_value}}
    return message


def enrol_later(
    ws: Workspace, identifier: str, *, birth_month: int | None = None, referral_code: str | None = None
) -> PendingEnrolment:
    """Log the enrolment of ``identifier`` (``phone:0912...``), which no profile holds yet; the event processor
    completes it. Bad input is refused here, before anything is logged."""
    if not enrols_later(identifier):
        raise InvalidInput(
            f"no profile has {identifier.strip()!r}, and a new member can only be enrolled by "
            f"{', '.join(k + ':...' for k in KINDS)}",
            field="member",
        )
    id_type, _, raw_value = identifier.strip().partition(":")
    try:
        id_value = normalised_identifier(id_type, raw_value.strip(), ws.settings)
    except InvalidInput as exc:
        raise InvalidInput(str(exc), field="member") from None
    with ws.store.read() as conn:  # the checks of ops.enrol, before anything is logged
        checked_enrolment(conn, birth_month=birth_month, referral_code=referral_code)
    message_id = f"enrol-{uuid.uuid4().hex}"
    message = enrolment_message(
        id_type, id_value, birth_month=birth_month, referral_code=referral_code, message_id=message_id
    )
    # The same checks as the tracking API's (a phone that is not a phone is refused, naming the field).
    record = to_record(message, source=SOURCE, received_at=utcnow())
    ws.log.append([record])
    return PendingEnrolment(message_id, id_type, id_value)
