"""The records probabilistic matching compares: one row per distinct description of a person in a profile.

A record is what one message says about the person — name, birth date, address, national id, phone, email —
from identify traits or an import's ``context.traits``: every message with a usable name (placeholders such as
`Khách lẻ` are none) or a national id. Its profile (``cluster``) is that of the message's strongest identifier
that joined one: a receipt whose phone is held (a household's) is in its own receipt's profile and still a record,
its phone still compared. Rows of one deterministic profile that say the same thing collapse into one (a loyal
customer's hundred receipts are one record), so matching compares people, not receipts. Text that needs
Vietnamese rules (names, places) is normalised in Python once per distinct value (``NAMES``, ``PLACES``) and
joined back, as in the graph.
"""

from __future__ import annotations

from c360.identity.graph_sql import EVENTS, LABELS, NAMES, OCC, RAW_NAMES

PLACES = "id_places"
RAW_PLACES = "id_raw_places"
RECORDS = "id_records"


def _trait(path: str) -> str:
    return f"coalesce(c360_json_text(e.traits, '$.{path}'), c360_json_text(e.context, '$.traits.{path}'))"


def raw_places_sql() -> str:
    """Per message, the place texts to normalise: province (or address state), city and street."""
    return f"""
        SELECT e.message_id,
               coalesce({_trait("province")}, {_trait("address.state")}) AS province,
               {_trait("address.city")} AS city,
               {_trait("address.street")} AS street,
               {_trait("address.postalCode")} AS postcode,
               {_trait("birthday")} AS birth_date
        FROM {EVENTS} e
        WHERE e.traits IS NOT NULL OR c360_json_text(e.context, '$.traits') IS NOT NULL
    """


def distinct_places_sql() -> str:
    return f"""
        SELECT DISTINCT 'province' AS kind, province AS raw FROM {RAW_PLACES} WHERE province IS NOT NULL
        UNION SELECT DISTINCT 'text' AS kind, city AS raw FROM {RAW_PLACES} WHERE city IS NOT NULL
        UNION SELECT DISTINCT 'text' AS kind, street AS raw FROM {RAW_PLACES} WHERE street IS NOT NULL
    """


def records_sql() -> str:
    """One row per (profile, description); ``record_key`` is the first message that gave it."""
    return f"""
        SELECT min(message_id) AS record_key, cluster, name, name_reversed, family_name, given_name, birth_date,
               postcode, province, city, address, national_id, phone, email
        FROM (
            SELECT r.message_id, a.label AS cluster, n.name_key AS name, n.name_rev AS name_reversed,
                   CASE WHEN instr(n.name_key, ' ') > 0
                        THEN substr(n.name_key, 1, instr(n.name_key, ' ') - 1) END AS family_name,
                   n.given AS given_name, p.birth_date, p.postcode, pv.value AS province, pc.value AS city,
                   ps.value AS address, r.national_id, ph.id_value AS phone, em.id_value AS email
            FROM {RAW_NAMES} r
            LEFT JOIN {NAMES} n ON n.raw = r.name
            JOIN (
                -- The profile of the message's strongest identifier that is in one: a held value (a household's
                -- phone on a receipt) is in none, and the receipt is still a record, in its own receipt's profile.
                SELECT o.message_id, l.label,
                       row_number() OVER (PARTITION BY o.message_id ORDER BY o.id_rank, o.id_value) AS pos
                FROM {OCC} o
                JOIN {LABELS} l ON l.node = o.id_type || '|' || o.id_value
            ) a ON a.message_id = r.message_id AND a.pos = 1
            LEFT JOIN {RAW_PLACES} p ON p.message_id = r.message_id
            LEFT JOIN {PLACES} pv ON pv.kind = 'province' AND pv.raw = p.province
            LEFT JOIN {PLACES} pc ON pc.kind = 'text' AND pc.raw = p.city
            LEFT JOIN {PLACES} ps ON ps.kind = 'text' AND ps.raw = p.street
            LEFT JOIN (
                SELECT message_id, min(id_value) AS id_value FROM {OCC} WHERE id_type = 'phone' GROUP BY message_id
            ) ph ON ph.message_id = r.message_id
            LEFT JOIN (
                SELECT message_id, min(id_value) AS id_value FROM {OCC} WHERE id_type = 'email' GROUP BY message_id
            ) em ON em.message_id = r.message_id
            -- A message without a usable name (none, or a placeholder such as `Khách lẻ`) is still a record when
            -- it carries a national id.
            WHERE n.name_key IS NOT NULL OR r.national_id IS NOT NULL
        )
        GROUP BY cluster, name, name_reversed, family_name, given_name, birth_date, postcode, province, city,
                 address, national_id, phone, email
    """
