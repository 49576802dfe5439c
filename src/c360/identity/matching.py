"""Probabilistic matching: the Fellegi-Sunter step of identity resolution, with Splink.

The deterministic identity graph has already grouped records that share an identifier into clusters. This step looks
for the pairs it could not see -- the same person with another phone, a typo in the name, the given name written
first -- and scores them with a model trained on the records themselves:

- the prior (how likely two random records are the same person) from deterministic rules: the clusters themselves,
  plus national id + birth date and name + birth date + postcode, taken to find 70% of the true pairs;
- ``u`` (how often a level occurs between two different people) from random pairs: the pairs within random groups
  of records (``U_BUCKET``, about ``u_pairs`` of them), compared by the engine in one pass
  (``_random_pair_patterns``);
- ``m`` (how often it occurs for the same person) by expectation maximisation on pairs that share a birth date, then
  on pairs that share a name;
- ``u`` again, each random pair counting by its probability of *not* matching under that model: where records
  have many duplicates, the matches among random pairs made the strong levels look common (u of an exact birth
  date several times too high on FEBRL, where every record has a duplicate);
- then floors, so that what the data could not show (a level never seen, an m of 0 on a small data set) is not
  turned into a weight of +-20 bits (``_with_floors``).

Six comparisons, each with a null level (missing on either side: no evidence either way), their levels most
specific first (``_comparisons``): name (exact, either order, given name first without the middle name, one edit,
family and given name, both of them with a typo, given name, family name, one of them with a typo, one word of the
other, crossed, different), birth date (exact, day and month swapped, one edit, same month, same year), address
(the street exact, or close and in the same postcode or city, the postcode and city, either with a typo, the
postcode, the city, the province), national id (exact, one or two edits), phone (exact, last 6 digits, one edit),
email (exact). Edits are Damerau's: two neighbours swapped is one.

Pairs are scored when they share a phone, an email or a national id, a given or family name and the birth date, the
name and the birth year, city or postcode, the birth date and the city or postcode, the address and postcode, or
the name read in the other order and the birth year -- each rule an equi-join, so at a million Vietnamese records
about 8 million pairs are scored, not the 500 billion of all of them. Weaker keys pair records only where few
records share them (``CAPPED_KEYS``): a rare name alone, family and given name in either order, the family name
with the postcode, the given name with the city, the street with the city: `nguyen van an` alone pairs nobody.

Splink runs on the engine's own session: the DuckDB connection of a ``DuckDBEngine``, the SparkSession of a
``SparkEngine``. Its comparisons are written with Splink's dialect-aware level creators, so both engines run the same
model; string distances are taken on the folded ASCII keys, which DuckDB (bytes) and Spark (characters) measure alike.

Names, the address, phone and email carry term-frequency adjustments: ``nguyen van an`` is shared by thousands of
people, so agreeing on it is weak evidence, while agreeing on a rare name is strong. c360 counts the frequencies
itself, among the distinct descriptions of people other than the record's own (``_term_frequencies_sql``). The given
name is a level of the name comparison, not a comparison of its own, because every pair that agrees on the full name
also agrees on the given name: counting both would add the same evidence twice (Fellegi-Sunter assumes the
comparisons independent given the match status). For the same reason the street, postcode, city and province are one
comparison: two people of one household share all four.
"""

from __future__ import annotations

import contextlib
import logging
import math
import statistics
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
from splink import ColumnExpression, Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink.blocking_rule_library import And, CustomRule
from splink.comparison_library import CustomComparison
from splink.internals.comparison_level_creator import ComparisonLevelCreator
from splink.internals.dialects import SplinkDialect
from splink.internals.exceptions import EMTrainingException, SplinkException
from splink.internals.pipeline import CTEPipeline

from c360.engines import Engine
from c360.errors import EngineError, InvalidInput
from c360.sql import check_name

if TYPE_CHECKING:
    from splink.internals.blocking_rule_creator import BlockingRuleCreator
    from splink.internals.database_api import DatabaseAPISubClass

log = logging.getLogger("c360.identity.matching")

#: The columns ``match_records`` reads, all text; only ``record_key`` and ``cluster`` may not be NULL.
RECORD_COLUMNS: Final = (
    "record_key",
    "cluster",
    "name",
    "name_reversed",
    "family_name",
    "given_name",
    "birth_date",
    "postcode",
    "province",
    "city",
    "address",
    "national_id",
    "phone",
    "email",
)

MATCH_SCHEMA: Final = pa.schema(
    [
        pa.field("record_key_l", pa.string(), nullable=False),
        pa.field("record_key_r", pa.string(), nullable=False),
        pa.field("match_probability", pa.float64(), nullable=False),
        pa.field("match_weight", pa.float64(), nullable=False),
        pa.field("evidence", pa.string(), nullable=False),
    ]
)


@dataclass(frozen=True)
class MatchSettings:
    """How sure a pair must be to be merged or reviewed, and how much data trains the model."""

    threshold_upper: float = 0.95  # >= : merge
    threshold_lower: float = 0.80  # >= and < upper: review
    max_pairs: int = 1_000_000  # caps the pairs each EM session trains on
    # u estimated from about this many random pairs. A quarter of Splink's usual million gives the same F1 on FEBRL3,
    # FEBRL4 and 100,000 generated records (bench/identity.py), and comparing them is ~4x quicker.
    u_pairs: int = 250_000
    seed: int = 42

    def __post_init__(self) -> None:
        if not 0.0 < self.threshold_lower <= self.threshold_upper <= 1.0:
            raise InvalidInput(
                f"need 0 < threshold_lower <= threshold_upper <= 1, got {self.threshold_lower} and "
                f"{self.threshold_upper}",
                field="threshold_lower",
            )
        if self.max_pairs < 1:
            raise InvalidInput(f"must be at least 1, got {self.max_pairs}", field="max_pairs")
        if self.u_pairs < 1:
            raise InvalidInput(f"must be at least 1, got {self.u_pairs}", field="u_pairs")


# -- the model ------------------------------------------------------------------------------------------------------

#: Deterministic rules for the prior, and the share of the true pairs they are taken to find.
PRIOR_RULES: Final = (("cluster",), ("national_id", "birth_date"), ("name", "birth_date", "postcode"))
PRIOR_RULES_RECALL: Final = 0.7
#: With no deterministic match at all, the prior assumes this many true pairs per record.
FALLBACK_PAIRS_PER_RECORD: Final = 0.05
#: Blocking rules for expectation maximisation: each trains every comparison that does not use its columns.
EM_RULES: Final = (("birth_date",), ("name",))
#: The smallest m a level gets: no single disagreement may outweigh everything else (see _with_floors).
MIN_M: Final = 0.001
#: Weaker blocking keys, each its own column of the prepared table, that pair the records sharing them only where at
#: most CAPPED_BLOCK records do: a rare name alone, family and given name in either order, the family name with the
#: postcode, the given name with the city, the street with the city (Vietnamese addresses rarely carry a postcode).
#: Bounded: a block of k records is k (k - 1) / 2 pairs, so each key adds at most CAPPED_BLOCK / 2 pairs per record.
#: (The family name with the city and the given name with the postcode found no pair on FEBRL that these miss.)
CAPPED_KEYS: Final = {
    "block_name": ("name",),
    # family and given name in either order: `linh hoang` and `hoang thi linh` share `hoang|linh`.
    "block_name_parts": ("least(family_name, given_name)", "greatest(family_name, given_name)"),
    "block_family_postcode": ("family_name", "postcode"),
    "block_given_city": ("given_name", "city"),
    "block_address_city": ("address", "city"),
}
CAPPED_BLOCK: Final = 20
#: The columns with term-frequency adjustments, whose frequencies c360 counts itself (_term_frequencies_sql).
TF_COLUMNS: Final = ("name", "given_name", "family_name", "address", "phone", "email")
#: Names of the working tables, dropped afterwards with Splink's own.
PREPARED: Final = "c360_match_records"
#: The prepared table's column that groups records at random: the pairs within the groups are a random sample.
U_BUCKET: Final = "u_bucket"
#: Jaro-Winkler similarity from which two words of a name are taken for one with a typo (`greeb` / `green` 0.92).
NAME_SIMILAR: Final = 0.88


class _AnyPairLevel(ComparisonLevelCreator):
    """``metric(a_l, b_r) op threshold`` holds for at least one of the column pairs ``(a, b)``: a level that looks
    at the name in both readings. ``metric`` is a distance (at most ``threshold``) or ``jaro_winkler`` (at least),
    named per dialect by Splink."""

    def __init__(
        self,
        metric: Literal["levenshtein", "damerau_levenshtein", "jaro_winkler"],
        pairs: Sequence[tuple[str, str]],
        threshold: float,
    ) -> None:
        if metric != "jaro_winkler" and threshold != int(threshold):
            raise ValueError(f"an edit distance is a whole number, not {threshold}")
        self.metric = metric
        self.pairs = tuple(pairs)
        self.threshold = threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        terms = []
        for left, right in self.pairs:
            left_column, right_column = ColumnExpression(left), ColumnExpression(right)
            left_column.sql_dialect = right_column.sql_dialect = sql_dialect
            a, b = left_column.name_l, right_column.name_r
            if self.metric == "jaro_winkler":
                terms.append(f"{sql_dialect.jaro_winkler_function_name}({a}, {b}) >= {self.threshold}")
            elif self.metric == "levenshtein":
                terms.append(f"{sql_dialect.levenshtein_function_name}({a}, {b}) <= {self.threshold}")
            else:
                # Damerau-Levenshtein costs DuckDB five times Levenshtein, and most pairs are far apart: it is taken
                # only where the lengths and Levenshtein (at most twice Damerau) allow. The same answer, in a fifth
                # of the time; conjunctions stop at the first false term on both engines.
                levenshtein = sql_dialect.levenshtein_function_name
                damerau = sql_dialect.damerau_levenshtein_function_name
                terms.append(
                    f"abs(length({a}) - length({b})) <= {self.threshold}"
                    f" AND {levenshtein}({a}, {b}) <= {2 * self.threshold}"
                    f" AND {damerau}({a}, {b}) <= {self.threshold}"
                )
        return " OR ".join(f"({term})" for term in terms)

    def create_label_for_charts(self) -> str:
        return f"{self.metric} {self.threshold} on {self.pairs}"


class _OneWordLevel(ComparisonLevelCreator):
    """One side's name is one word (``family_name`` NULL, the word in ``given_name``) and the other name has a word
    at Jaro-Winkler ``threshold`` or more from it: a name given in part, which does not contradict the other."""

    def __init__(self, threshold: float) -> None:
        self.threshold = threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        function = sql_dialect.jaro_winkler_function_name
        family, given = ColumnExpression("family_name"), ColumnExpression("given_name")
        family.sql_dialect = given.sql_dialect = sql_dialect
        sides = []
        for one, other in (("l", "r"), ("r", "l")):
            word = getattr(given, f"name_{one}")
            words = (getattr(family, f"name_{other}"), getattr(given, f"name_{other}"))
            similar = " OR ".join(f"{function}({word}, {column}) >= {self.threshold}" for column in words)
            sides.append(
                f"({getattr(family, f'name_{one}')} IS NULL AND {getattr(family, f'name_{other}')} IS NOT NULL"
                f" AND ({similar}))"
            )
        return " OR ".join(sides)

    def create_label_for_charts(self) -> str:
        return f"one word of the other, jaro-winkler {self.threshold}"


def _damerau(column: str, edits: int) -> ComparisonLevelCreator:
    """At most ``edits`` insertions, deletions, changes or swaps of two neighbours between the two values."""
    return _AnyPairLevel("damerau_levenshtein", [(column, column)], edits)


def _level(label: str, creator: ComparisonLevelCreator, **options: Any) -> tuple[str, ComparisonLevelCreator]:
    """A level and the label the evidence shows for it."""
    return label, creator.configure(label_for_charts=label, **options)


def _null_if_all_missing(*columns: str) -> tuple[str, ComparisonLevelCreator]:
    if len(columns) == 1:
        return _level("missing", cll.NullLevel(columns[0]))
    return _level("missing", cll.And(*(cll.NullLevel(column) for column in columns)))


def _comparisons() -> dict[str, list[tuple[str, ComparisonLevelCreator]]]:
    """Each comparison's levels, most specific first after the null level; the label is what the evidence shows."""
    either_order = (("name", "name"), ("name", "name_reversed"), ("name_reversed", "name"))
    year, month, day = (
        ColumnExpression("birth_date").substr(start, length) for start, length in ((1, 4), (6, 2), (9, 2))
    )
    same_place = cll.Or(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("city"))
    return {
        "name": [
            _null_if_all_missing("name"),
            _level("exact (tf)", cll.ExactMatchLevel("name", term_frequency_adjustments=True)),
            # `an nguyen van` vs `nguyen van an`: the weight is adjusted by the frequency of the name read either way.
            _level(
                "either order (tf)",
                cll.Or(
                    cll.ColumnsReversedLevel("name", "name_reversed"), cll.ColumnsReversedLevel("name_reversed", "name")
                ),
                tf_adjustment_column="name",
                tf_adjustment_weight=1.0,
            ),
            # `linh hoang` / `hoang thi linh`: given name first, and the middle name left out, as Western forms ask.
            _level(
                "given name first",
                cll.ColumnsReversedLevel("family_name", "given_name", symmetrical=True),
            ),
            # Damerau: two letters swapped (`pahm` / `pham`) is one edit.
            _level("one edit", _AnyPairLevel("damerau_levenshtein", either_order, 1)),
            _level(
                "family and given name", cll.And(cll.ExactMatchLevel("family_name"), cll.ExactMatchLevel("given_name"))
            ),
            # Both parts with a typo at most, in either order (`wucyatsch michael` / `wuchatsch michel`). On the whole
            # name Jaro-Winkler would weigh the family name's prefix: `white zachary` / `white tayah` is 0.9.
            _level(
                "family and given name similar",
                cll.Or(
                    cll.And(
                        _AnyPairLevel("jaro_winkler", [("family_name", "family_name")], NAME_SIMILAR),
                        _AnyPairLevel("jaro_winkler", [("given_name", "given_name")], NAME_SIMILAR),
                    ),
                    cll.And(
                        _AnyPairLevel("jaro_winkler", [("family_name", "given_name")], NAME_SIMILAR),
                        _AnyPairLevel("jaro_winkler", [("given_name", "family_name")], NAME_SIMILAR),
                    ),
                ),
            ),
            _level(
                "given name (tf)",
                cll.ExactMatchLevel("given_name"),
                tf_adjustment_column="given_name",
                tf_adjustment_weight=1.0,
                # The adjustment is relative to this level's own u: the comparison has no exact level on given_name.
                disable_tf_exact_match_detection=True,
            ),
            _level(
                "family name (tf)",
                cll.ExactMatchLevel("family_name"),
                tf_adjustment_column="family_name",
                tf_adjustment_weight=1.0,
                disable_tf_exact_match_detection=True,
            ),
            # A typo in one part and another value in the other (`greeb matthew` / `green holly`).
            _level(
                "family name similar", _AnyPairLevel("jaro_winkler", [("family_name", "family_name")], NAME_SIMILAR)
            ),
            _level("given name similar", _AnyPairLevel("jaro_winkler", [("given_name", "given_name")], NAME_SIMILAR)),
            # One side wrote one word only (family name NULL: the word is in given_name), and it is a word of the
            # other name (`webb` / `webb amber`).
            _level("one word of the other", _OneWordLevel(NAME_SIMILAR)),
            # Written in the other order with another given name (`berryman kelsy` / `phoebe berryman`).
            _level(
                "crossed",
                _AnyPairLevel(
                    "jaro_winkler", [("family_name", "given_name"), ("given_name", "family_name")], NAME_SIMILAR
                ),
            ),
            _level("different", cll.ElseLevel()),
        ],
        "birth_date": [
            _null_if_all_missing("birth_date"),
            _level("exact", cll.ExactMatchLevel("birth_date")),
            _level(
                "day and month swapped",
                cll.And(cll.ExactMatchLevel(year), cll.ColumnsReversedLevel(month, day, symmetrical=True)),
            ),
            # Damerau: two digits swapped (`1942-02-20` / `1942-02-02`) is one edit.
            _level("one edit", _damerau("birth_date", 1)),
            _level("same year and month", cll.And(cll.ExactMatchLevel(year), cll.ExactMatchLevel(month))),
            _level("same year", cll.ExactMatchLevel(year)),
            _level("different", cll.ElseLevel()),
        ],
        "address": [
            _null_if_all_missing("address", "postcode", "city", "province"),
            _level("exact (tf)", cll.ExactMatchLevel("address", term_frequency_adjustments=True)),
            _level("jaro-winkler >= 0.9, same place", cll.And(cll.JaroWinklerLevel("address", 0.9), same_place)),
            _level("jaro-winkler >= 0.9", cll.JaroWinklerLevel("address", 0.9)),
            _level("jaro-winkler >= 0.8, same place", cll.And(cll.JaroWinklerLevel("address", 0.8), same_place)),
            _level("same postcode and city", cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("city"))),
            _level(
                "postcode and city, one with a typo",
                cll.Or(
                    cll.And(cll.ExactMatchLevel("postcode"), cll.JaroWinklerLevel("city", 0.9)),
                    cll.And(cll.ExactMatchLevel("city"), _damerau("postcode", 1)),
                ),
            ),
            _level("jaro-winkler >= 0.8", cll.JaroWinklerLevel("address", 0.8)),
            _level("same postcode", cll.ExactMatchLevel("postcode")),
            _level("same city", cll.ExactMatchLevel("city")),
            _level("same province", cll.ExactMatchLevel("province")),
            _level("different", cll.ElseLevel()),
        ],
        "national_id": [
            _null_if_all_missing("national_id"),
            _level("exact", cll.ExactMatchLevel("national_id")),
            # Damerau: two digits swapped is one edit, the commonest typo in a number.
            _level("one edit", _damerau("national_id", 1)),
            _level("two edits", _damerau("national_id", 2)),
            _level("different", cll.ElseLevel()),
        ],
        "phone": [
            _null_if_all_missing("phone"),
            # A shop's or a family's phone typed for many customers is weak evidence: term frequencies again.
            _level("exact (tf)", cll.ExactMatchLevel("phone", term_frequency_adjustments=True)),
            _level("last 6 digits", cll.ExactMatchLevel(ColumnExpression("phone").substr(-6, 6))),
            _level("one edit", _damerau("phone", 1)),
            _level("different", cll.ElseLevel()),
        ],
        "email": [
            _null_if_all_missing("email"),
            _level("exact (tf)", cll.ExactMatchLevel("email", term_frequency_adjustments=True)),
            _level("different", cll.ElseLevel()),
        ],
    }


def _prediction_rules() -> list[BlockingRuleCreator | dict[str, Any]]:
    """Which pairs are scored. Every rule joins on an equality, and a common name is always paired with a second key:
    `nguyen van anh` alone is shared by thousands of people in a million records, millions of pairs. The weaker keys
    (``CAPPED_KEYS``) pair records only where few records share them (see ``_prepared_sql``)."""
    year = ColumnExpression("birth_date").substr(1, 4)
    rules: list[BlockingRuleCreator] = [
        block_on("phone"),
        block_on("email"),
        block_on("national_id"),
        block_on("given_name", "birth_date"),
        block_on("family_name", "birth_date"),
        block_on("name", year),
        block_on("name", "city"),
        block_on("name", "postcode"),
        block_on("birth_date", "postcode"),
        block_on("birth_date", "city"),
        block_on("address", "postcode"),
        And(CustomRule("l.name = r.name_reversed"), block_on(year)),
        And(CustomRule("l.name_reversed = r.name"), block_on(year)),
        *(block_on(key) for key in CAPPED_KEYS),
    ]
    # Pairs inside one cluster are linked already: not scoring them saves the work and keeps them out of the answer.
    return [And(rule, CustomRule("l.cluster <> r.cluster")) for rule in rules]


def _prepared_sql(records: str, buckets: int, seed: int) -> str:
    """``records`` with a column per ``CAPPED_KEYS`` entry: the key's value where at most ``CAPPED_BLOCK`` records
    share it, else NULL (which joins nothing); and ``U_BUCKET``, the record's place in ``buckets`` random groups
    (by the order of a hash of its key and ``seed``)."""
    columns = [f"row_number() OVER (ORDER BY md5(record_key || '|' || '{int(seed)}')) % {int(buckets)} AS {U_BUCKET}"]
    for key, parts in CAPPED_KEYS.items():
        known = " AND ".join(f"{part} IS NOT NULL" for part in parts)
        value = " || '|' || ".join(parts)
        partition = ", ".join(parts)
        columns.append(
            f"CASE WHEN {known} AND count(*) OVER (PARTITION BY {partition}) <= {CAPPED_BLOCK} THEN {value} END"
            f" AS {key}"
        )
    return f"SELECT {', '.join(RECORD_COLUMNS)}, {', '.join(columns)} FROM {records}"


def _descriptions_sql(table: str) -> str:
    """The distinct descriptions of people in ``table``: every column but the record's key and cluster."""
    return f"SELECT DISTINCT {', '.join(c for c in RECORD_COLUMNS if c not in ('record_key', 'cluster'))} FROM {table}"


def _term_frequencies_sql(descriptions: str, column: str) -> str:
    """How often ``column``'s value occurs among the *other* descriptions of people (``_descriptions_sql``):
    (n - 1) / (N - 1), at least 1 / (N - 1).

    Splink's own table counts records, the record itself included (n / N): a value on exactly the two records of one
    person would weigh half, and a household's phone typed on forty receipts, each its own record (the phone is held),
    would look as common as a shop's hotline. Forty identical receipts are one description, of one person.
    """
    return f"""
        SELECT d.{column}, CAST(greatest(count(*) - 1, 1) AS DOUBLE) / greatest(max(n.total) - 1, 1) AS tf_{column}
        FROM {descriptions} d CROSS JOIN (SELECT count({column}) AS total FROM {descriptions}) n
        WHERE d.{column} IS NOT NULL
        GROUP BY d.{column}
    """


def _settings(prior: float) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="record_key",
        comparisons=[
            CustomComparison([creator for _, creator in levels], output_column_name=name)
            for name, levels in _comparisons().items()
        ],
        blocking_rules_to_generate_predictions=_prediction_rules(),
        probability_two_random_records_match=prior,
        # Splink keeps the gamma columns (which level decided each comparison: the evidence) only with the matching
        # columns. Predictions are filtered at threshold_lower before they are stored, so the width costs little.
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=["cluster"],
    )


def _evidence_sql() -> str:
    """A compact JSON object of the deciding level per comparison, built by the engine from the gamma columns."""
    parts = []
    for index, (name, levels) in enumerate(_comparisons().items()):
        # Splink numbers the null level -1 and the others from len - 2 (most specific) down to 0 (else).
        cases = " ".join(
            f"WHEN {-1 if position == 0 else len(levels) - 1 - position} THEN '{label}'"
            for position, (label, _) in enumerate(levels)
        )
        prefix = "{" if index == 0 else ","
        parts.append(f"""'{prefix}"{name}":"' || CASE gamma_{name} {cases} END || '"'""")
    return " || ".join([*parts, "'}'"])


# -- running it -----------------------------------------------------------------------------------------------------


def match_records(engine: Engine, records: str, settings: MatchSettings) -> pa.Table:
    """Pairs of records in different clusters that are probably the same person, scored by a Fellegi-Sunter model
    trained on ``records`` (a table registered in ``engine`` with the ``RECORD_COLUMNS``).

    Returns ``MATCH_SCHEMA`` rows for pairs with ``match_probability >= threshold_lower``, ``record_key_l <
    record_key_r``, ordered by the two keys.
    """
    check_name(records, what="records table")
    _check_columns(engine, records)
    counts = engine.sql(
        f"""SELECT count(*) AS n_rows, count(DISTINCT record_key) AS n_keys, count(record_key) AS n_keyed,
                   count(cluster) AS n_clustered, count(DISTINCT cluster) AS n_clusters
            FROM {records}"""
    ).to_pylist()[0]
    if counts["n_keyed"] < counts["n_rows"] or counts["n_clustered"] < counts["n_rows"]:
        missing = "record_key" if counts["n_keyed"] < counts["n_rows"] else "cluster"
        raise InvalidInput(f"table {records} has rows where it is NULL", field=missing)
    if counts["n_keys"] < counts["n_rows"]:
        raise InvalidInput(f"must be unique, but table {records} repeats some", field="record_key")
    if counts["n_clusters"] < 2:
        log.info("matching %d records in %d clusters: nothing to compare", counts["n_rows"], counts["n_clusters"])
        return MATCH_SCHEMA.empty_table()

    started = time.perf_counter()
    failures: tuple[type[BaseException], ...] = (SplinkException, *engine.native_errors)
    try:
        with _quiet_splink(), _splink_api(engine) as db_api:
            prepared = _prepare(engine, db_api, records, counts["n_rows"], settings)
            prior = _estimate_prior(db_api, prepared, counts["n_rows"])
            model = _train(engine, db_api, prepared, prior, settings, counts["n_rows"])
            linker = Linker(db_api.register(prepared), model, log_level=None)
            predictions = linker.inference.predict(
                threshold_match_probability=settings.threshold_lower, warning_mode="never"
            )
            matches = _fetch(engine, predictions.physical_name, settings.threshold_lower)
    except failures as exc:
        # Splink's message carries the SQL that failed.
        raise EngineError(f"probabilistic matching failed: {exc}", engine=engine.name) from exc
    sure = pc.sum(pc.greater_equal(matches.column("match_probability"), settings.threshold_upper)).as_py() or 0
    log.info(
        "matched %d records: %d pairs >= %.2f, %d of them >= %.2f, in %.1f s",
        counts["n_rows"],
        matches.num_rows,
        settings.threshold_lower,
        sure,
        settings.threshold_upper,
        time.perf_counter() - started,
    )
    return matches


def u_buckets(n_rows: int, u_pairs: int) -> int:
    """How many random groups the records fall into for u: n records dealt round-robin into b groups make about
    n^2 / 2b pairs within them. At least two records a group: with more groups than half the records, most would
    hold one record and make no pair at all (so a million records give at least ~500,000 pairs)."""
    return max(1, min(n_rows // 2, round(n_rows * n_rows / (2 * u_pairs))))


def _prepare(engine: Engine, db_api: DatabaseAPISubClass, records: str, n_rows: int, settings: MatchSettings) -> str:
    """The table Splink reads (``records``, the capped blocking keys and the random buckets), with c360's term
    frequencies put in Splink's cache, which every linker on ``db_api`` shares."""
    engine.materialize(PREPARED, _prepared_sql(records, u_buckets(n_rows, settings.u_pairs), settings.seed))
    linker = Linker(db_api.register(PREPARED), _settings(0.5), log_level=None)
    descriptions = f"{PREPARED}_descriptions"
    engine.materialize(descriptions, _descriptions_sql(PREPARED))
    for column in TF_COLUMNS:
        table = f"{PREPARED}_tf_{column}"
        engine.materialize(table, _term_frequencies_sql(descriptions, column))
        linker.table_management.register_term_frequency_lookup(db_api.register(table), column)
    return PREPARED


def _check_columns(engine: Engine, records: str) -> None:
    schema = engine.sql(f"SELECT * FROM {records} LIMIT 0").schema
    for column in RECORD_COLUMNS:
        if column not in schema.names:
            raise InvalidInput(f"the records table {records} has no column {column}", field=column)
        data_type = schema.field(column).type
        if not (pa.types.is_string(data_type) or pa.types.is_large_string(data_type)):
            raise InvalidInput(f"must be text in table {records}, not {data_type}", field=column)


def _estimate_prior(db_api: DatabaseAPISubClass, records: str, n_rows: int) -> float:
    """The probability that two random records match, from the pairs the deterministic rules find."""
    linker = Linker(db_api.register(records), _settings(0.5), log_level=None)
    try:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*columns) for columns in PRIOR_RULES], recall=PRIOR_RULES_RECALL
        )
    except ValueError:
        # The rules found more pairs than the recall allows: they are not deterministic on this data.
        log.info("the deterministic rules found more pairs than their recall allows; the prior is the fallback")
        estimate = 0.0
    else:
        estimate = float(linker.misc.save_model_to_json()["probability_two_random_records_match"])
    total_pairs = n_rows * (n_rows - 1) / 2
    prior = estimate if 0.0 < estimate < 1.0 else min(0.5, max(1.0, FALLBACK_PAIRS_PER_RECORD * n_rows) / total_pairs)
    log.info("prior: one pair in %.0f matches (deterministic rules: %.3g)", 1 / prior, estimate)
    return prior


def _train(
    engine: Engine, db_api: DatabaseAPISubClass, records: str, prior: float, settings: MatchSettings, n_rows: int
) -> dict[str, Any]:
    """The trained model, as Splink's settings dictionary: u from random pairs, m by EM, then u again without the
    matches among the random pairs."""
    patterns = _random_pair_patterns(db_api, records)
    sampled = sum(count for _, count in patterns)
    model = Linker(db_api.register(records), _settings(prior), log_level=None).misc.save_model_to_json()
    _set_u(model, patterns, [1.0] * len(patterns))
    model = _with_floors(model, sampled)
    sessions = []
    for columns in EM_RULES:
        # Checked first: a blocking rule without pairs is an error in Splink, after a query to find that out.
        if not _has_pairs(engine, records, columns):
            log.info("no two records share %s: no EM on them", " and ".join(columns))
            continue
        trained = _expectation_maximisation(db_api, records, model, columns, settings.max_pairs)
        if trained is not None:
            sessions.append(trained)
    model = _with_floors(_combine(model, sessions), sampled)
    # Each random pair counts towards u by its probability of not matching (one M step of EM on the random pairs,
    # m and the prior fixed). Random sampling counts the matches among the random pairs too: where records have many
    # duplicates (a share `prior` of all pairs match), the strongest levels are about as common among those few
    # matches as among all the rest, and u of an exact birth date comes out several times too high.
    _set_u(model, patterns, [1.0 - _match_probability(model, gammas) for gammas, _ in patterns])
    return _with_floors(model, sampled)


def _random_pair_patterns(db_api: DatabaseAPISubClass, records: str) -> list[tuple[tuple[int, ...], int]]:
    """The comparison vectors of the random pairs (the pairs within the ``U_BUCKET`` groups, between clusters) and
    how many pairs have each: the random sample that u is estimated from, computed by the engine in one pass."""
    dialect = db_api.sql_dialect
    names, cases = [], []
    for name, levels in _comparisons().items():
        # Splink's numbering: -1 for the null level, then len - 2 (most specific) down to 0 (the else level).
        whens = [f"WHEN {levels[0][1].create_sql(dialect)} THEN -1"]
        whens += [
            f"WHEN {creator.create_sql(dialect)} THEN {len(levels) - 1 - position}"
            for position, (_, creator) in enumerate(levels[1:-1], start=1)
        ]
        names.append(f"gamma_{name}")
        cases.append(f"CASE {' '.join(whens)} ELSE 0 END AS gamma_{name}")
    columns = ", ".join(f"l.{column} AS {column}_l, r.{column} AS {column}_r" for column in RECORD_COLUMNS)
    gammas = ", ".join(names)
    pipeline = CTEPipeline()
    pipeline.enqueue_sql(
        f"""
        SELECT {gammas}, count(*) AS pairs FROM (
            SELECT {", ".join(cases)} FROM (
                SELECT {columns} FROM {records} l
                JOIN {records} r ON l.{U_BUCKET} = r.{U_BUCKET} AND l.record_key < r.record_key
                    AND l.cluster <> r.cluster
            ) p
        ) g
        GROUP BY {gammas}
        """,
        "__c360_random_pair_patterns",
    )
    frame = db_api.sql_pipeline_to_splink_dataframe(pipeline)
    try:
        rows = frame.as_record_list()
    finally:
        frame.drop_table_from_database_and_remove_from_cache()
    return [(tuple(int(row[name]) for name in names), int(row["pairs"])) for row in rows]


def _set_u(model: dict[str, Any], patterns: Sequence[tuple[tuple[int, ...], int]], weights: Sequence[float]) -> None:
    """u of each level: the weighted share of the random pairs at that level, among those where the comparison is not
    NULL. A comparison that no random pair could make keeps what it had."""
    for index, comparison in enumerate(model["comparisons"]):
        by_level: dict[int, float] = {}
        for (gammas, count), weight in zip(patterns, weights, strict=True):
            if gammas[index] != -1:
                by_level[gammas[index]] = by_level.get(gammas[index], 0.0) + count * weight
        total = sum(by_level.values())
        if total <= 0:
            continue
        levels = comparison["comparison_levels"]
        for position, level in enumerate(levels):
            if not level.get("is_null_level"):
                level["u_probability"] = by_level.get(len(levels) - 1 - position, 0.0) / total


def _match_probability(model: dict[str, Any], gammas: Sequence[int]) -> float:
    """The probability that a pair with these levels matches, without term-frequency adjustments. A level without an
    m (one EM never saw) counts as no evidence either way."""
    prior = float(model["probability_two_random_records_match"])
    bits = math.log2(prior / (1 - prior))
    for comparison, gamma in zip(model["comparisons"], gammas, strict=True):
        levels = comparison["comparison_levels"]
        if gamma == -1:
            continue
        level = levels[len(levels) - 1 - gamma]
        m, u = level.get("m_probability"), level.get("u_probability")
        if m and u:
            bits += math.log2(m / u)
    return 1.0 / (1.0 + 2.0**-bits) if bits > -1000 else 0.0


def _expectation_maximisation(
    db_api: DatabaseAPISubClass, records: str, model: dict[str, Any], columns: Sequence[str], max_pairs: int
) -> dict[str, Any] | None:
    """The model after EM on the pairs that share ``columns``; None when EM cannot give an answer.

    Each session runs on a linker of its own, started from ``model``, because a Splink 5.0.0 session that fails
    leaves its linker without the comparisons on the blocking columns. It fails when EM drives the m of a level that
    never occurs among the matches (a national id one digit away, say) below 1e-300, which Splink refuses; fewer
    iterations stop before that.
    """
    iterations = int(model["max_iterations"])
    while iterations >= 1:
        linker = Linker(db_api.register(records), {**model, "max_iterations": iterations}, log_level=None)
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(block_on(*columns), max_pairs=max_pairs)
        except EMTrainingException:
            break
        except ValueError as exc:
            log.info("EM on %s stopped (%s); again with %d iterations", " and ".join(columns), exc, iterations // 2)
            iterations //= 2
        else:
            return linker.misc.save_model_to_json()
    log.warning("EM on pairs sharing %s gave no estimate; their comparisons keep starting values", ", ".join(columns))
    return None


def _combine(model: dict[str, Any], sessions: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """``model`` with each level's m the median of the EM sessions that estimated it, as Splink combines sessions.
    A session's model holds m only for the levels it estimated: the others were left out when it was saved."""
    for index, comparison in enumerate(model["comparisons"]):
        for position, level in enumerate(comparison["comparison_levels"]):
            estimates = [
                session["comparisons"][index]["comparison_levels"][position].get("m_probability")
                for session in sessions
            ]
            known = [estimate for estimate in estimates if estimate is not None]
            if known:
                level["m_probability"] = statistics.median(known)
    return model


def _has_pairs(engine: Engine, records: str, columns: Sequence[str]) -> bool:
    keys = ", ".join(check_name(column) for column in columns)
    known = " AND ".join(f"{column} IS NOT NULL" for column in columns)
    query = f"SELECT 1 AS found FROM {records} WHERE {known} GROUP BY {keys} HAVING count(*) > 1 LIMIT 1"
    return bool(engine.sql(query).num_rows > 0)


def _with_floors(model: dict[str, Any], sampled_pairs: int) -> dict[str, Any]:
    """Values for the levels training could not measure, instead of Splink's 1e-6 (unobserved) or 0 (EM's answer
    when a level never occurs among the matches of a small data set): either is a weight out of nothing.

    - u: a level absent from the random sample is rarer than one pair in it, so u is at least 1 / sampled pairs.
    - m: at least ``MIN_M`` (0 would be -inf: one level could veto any amount of agreement elsewhere); a level EM
      never saw (day and month swapped, on clean data) keeps Splink's starting value, 0.95 for the most specific
      level of a comparison and a share of 0.05 for each of the others. The saved model leaves it out for that.
    """
    min_u = 1 / max(1, sampled_pairs)
    for comparison in model["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            level["u_probability"] = max(level.get("u_probability", 0.0), min_u)
            if "m_probability" in level:
                level["m_probability"] = max(level["m_probability"], MIN_M)
    return model


def _fetch(engine: Engine, predictions: str, threshold: float) -> pa.Table:
    query = f"""
        SELECT record_key_l, record_key_r, CAST(match_probability AS DOUBLE) AS match_probability,
               CAST(match_weight AS DOUBLE) AS match_weight, {_evidence_sql()} AS evidence
        FROM {predictions}
        WHERE cluster_l <> cluster_r AND match_probability >= $threshold
    """
    batches = list(engine.iter_batches(query, params={"threshold": threshold}))
    table = pa.Table.from_batches(batches) if batches else MATCH_SCHEMA.empty_table()
    # Sorted here rather than by the engine: on Spark a global ORDER BY is one more job, for a small answer.
    return table.cast(MATCH_SCHEMA).sort_by([("record_key_l", "ascending"), ("record_key_r", "ascending")])


@contextlib.contextmanager
def _splink_api(engine: Engine) -> Iterator[DatabaseAPISubClass]:
    """Splink's database API over the engine's own connection or session. Afterwards the tables and views Splink
    left behind are dropped (its own clean-up misses some), so the engine is as it was."""
    if engine.name == "duckdb":
        from splink.backends.duckdb import DuckDBAPI

        from c360.engines.duckdb_engine import DuckDBEngine

        assert isinstance(engine, DuckDBEngine)
        connection = engine.connection
        tables = _duckdb_tables(connection)
        try:
            yield DuckDBAPI(connection=connection)
        finally:
            for name, kind in sorted(_duckdb_tables(connection) - tables):
                if kind == "VIEW":
                    connection.unregister(name)  # a registered Arrow table or relation; DROP VIEW cannot see it
                    connection.execute(f'DROP VIEW IF EXISTS "{name}"')
                else:
                    connection.execute(f'DROP TABLE IF EXISTS "{name}"')
    elif engine.name == "spark":
        from splink.backends.spark import SparkAPI

        from c360.engines.spark_engine import SparkEngine

        assert isinstance(engine, SparkEngine)
        session = engine.session
        views = _spark_views(session)
        try:
            # persist: intermediate tables stay in Spark's cache (released below) instead of Parquet checkpoints,
            # which need a checkpoint folder that every executor can reach.
            db_api = SparkAPI(  # type: ignore[no-untyped-call]  # Splink's SparkAPI has no annotations
                spark_session=session, break_lineage_method="persist"
            )
            if not session.catalog.functionExists("jaro_winkler"):
                raise EngineError(
                    "Splink's string similarity functions are not loaded: build the session with "
                    "c360.engines.spark_engine.build_session, or put splink.backends.spark.similarity_jar_location() "
                    "in spark.jars",
                    engine="spark",
                )
            yield db_api
        finally:
            for name in sorted(_spark_views(session) - views):
                session.catalog.dropTempView(name)  # uncaches a persisted table too
    else:
        raise EngineError("probabilistic matching runs on DuckDB or Spark", engine=engine.name)


def _duckdb_tables(connection: Any) -> set[tuple[str, str]]:
    rows = connection.execute("SELECT table_name, table_type FROM information_schema.tables").fetchall()
    return {(str(name), str(kind)) for name, kind in rows}


def _spark_views(session: Any) -> set[str]:
    return {table.name for table in session.catalog.listTables() if table.isTemporary}


@contextlib.contextmanager
def _quiet_splink() -> Iterator[None]:
    """Splink logs every step at INFO and advice at WARNING; c360 logs its own summary instead."""
    splink_logger = logging.getLogger("splink")
    level = splink_logger.level
    splink_logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        splink_logger.setLevel(level)
