"""Probabilistic matching: the Fellegi-Sunter step of identity resolution, with Splink.

The deterministic identity graph has already grouped records that share an identifier into clusters. This step looks
for the pairs it could not see -- the same person with another phone, a typo in the name, the given name written
first -- and scores them with a model trained on the records themselves:

- ``u`` (how often a level occurs between two different people) from a random sample of ``max_pairs`` pairs;
- ``m`` (how often it occurs for the same person) by expectation maximisation on pairs that share a birth date, then
  on pairs that share a name;
- the prior (how likely two random records are the same person) from deterministic rules: the clusters themselves,
  plus national id + birth date and name + birth date + postcode, taken to find 70% of the true pairs;
- then floors, so that what the data could not show (a level never seen, an m of 0 on a small data set) is not
  turned into a weight of +-20 bits (``_with_floors``).

Six comparisons, each with a null level (missing on either side: no evidence either way): name (exact, either
order, one edit, family + given name, Jaro-Winkler, given name, family name), birth date (exact, day and month
swapped, one edit, same month, same year), address (exact, Jaro-Winkler, postcode + city, postcode, city,
province), national id and phone (exact, one edit; phone also its last 6 digits), email (exact). Pairs are scored
when they share a phone, an email or a national id, a given or family name and the birth date, the name and the
birth year, city or postcode, the birth date and the city or postcode, the address and postcode, or the name read
in the other order and the birth year -- each rule an equi-join, so at a million Vietnamese records about 8 million
pairs are scored, not the 500 billion of all of them.

Splink runs on the engine's own session: the DuckDB connection of a ``DuckDBEngine``, the SparkSession of a
``SparkEngine``. Its comparisons are written with Splink's dialect-aware level creators, so both engines run the same
model; string distances are taken on the folded ASCII keys, which DuckDB (bytes) and Spark (characters) measure alike.

Names carry term-frequency adjustments: ``nguyen van an`` is shared by thousands of people, so agreeing on it is
weak evidence, while agreeing on a rare name is strong. The given name is a level of the name comparison, not a
comparison of its own, because every pair that agrees on the full name also agrees on the given name: counting both
would add the same evidence twice (Fellegi-Sunter assumes the comparisons independent given the match status).
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
    max_pairs: int = 1_000_000  # u estimated by random sampling of this many pairs (also caps EM's training pairs)
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
#: Random pairs compared at once when estimating u (bounded memory for a large max_pairs).
U_PAIRS_PER_CHUNK: Final = 10_000_000


class _AnyPairLevel(ComparisonLevelCreator):
    """``metric(a_l, b_r) op threshold`` holds for at least one of the column pairs ``(a, b)``: a level that looks
    at the name in both readings. ``metric`` is ``levenshtein`` or ``jaro_winkler``, named per dialect by Splink."""

    def __init__(
        self, metric: Literal["levenshtein", "jaro_winkler"], pairs: Sequence[tuple[str, str]], threshold: float
    ) -> None:
        self.metric = metric
        self.pairs = tuple(pairs)
        self.threshold = threshold

    def create_sql(self, sql_dialect: SplinkDialect) -> str:
        if self.metric == "levenshtein":
            function, operator = sql_dialect.levenshtein_function_name, "<="
        else:
            function, operator = sql_dialect.jaro_winkler_function_name, ">="
        terms = []
        for left, right in self.pairs:
            left_column, right_column = ColumnExpression(left), ColumnExpression(right)
            left_column.sql_dialect = right_column.sql_dialect = sql_dialect
            terms.append(f"{function}({left_column.name_l}, {right_column.name_r}) {operator} {self.threshold}")
        return " OR ".join(f"({term})" for term in terms)

    def create_label_for_charts(self) -> str:
        return f"{self.metric} {self.threshold} on {self.pairs}"


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
            _level("one edit", _AnyPairLevel("levenshtein", either_order, 1)),
            _level(
                "family and given name", cll.And(cll.ExactMatchLevel("family_name"), cll.ExactMatchLevel("given_name"))
            ),
            _level("jaro-winkler >= 0.9", _AnyPairLevel("jaro_winkler", either_order, 0.9)),
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
            _level("different", cll.ElseLevel()),
        ],
        "birth_date": [
            _null_if_all_missing("birth_date"),
            _level("exact", cll.ExactMatchLevel("birth_date")),
            _level(
                "day and month swapped",
                cll.And(cll.ExactMatchLevel(year), cll.ColumnsReversedLevel(month, day, symmetrical=True)),
            ),
            _level("one edit", cll.LevenshteinLevel("birth_date", 1)),
            _level("same year and month", cll.And(cll.ExactMatchLevel(year), cll.ExactMatchLevel(month))),
            _level("same year", cll.ExactMatchLevel(year)),
            _level("different", cll.ElseLevel()),
        ],
        "address": [
            _null_if_all_missing("address", "postcode", "city", "province"),
            _level("exact (tf)", cll.ExactMatchLevel("address", term_frequency_adjustments=True)),
            _level("jaro-winkler >= 0.9", cll.JaroWinklerLevel("address", 0.9)),
            _level("same postcode and city", cll.And(cll.ExactMatchLevel("postcode"), cll.ExactMatchLevel("city"))),
            _level("same postcode", cll.ExactMatchLevel("postcode")),
            _level("same city", cll.ExactMatchLevel("city")),
            _level("same province", cll.ExactMatchLevel("province")),
            _level("different", cll.ElseLevel()),
        ],
        "national_id": [
            _null_if_all_missing("national_id"),
            _level("exact", cll.ExactMatchLevel("national_id")),
            # Damerau: two digits swapped is one edit, the commonest typo in a number.
            _level("one edit", cll.DamerauLevenshteinLevel("national_id", 1)),
            _level("different", cll.ElseLevel()),
        ],
        "phone": [
            _null_if_all_missing("phone"),
            # A shop's or a family's phone typed for many customers is weak evidence: term frequencies again.
            _level("exact (tf)", cll.ExactMatchLevel("phone", term_frequency_adjustments=True)),
            _level("last 6 digits", cll.ExactMatchLevel(ColumnExpression("phone").substr(-6, 6))),
            _level("one edit", cll.DamerauLevenshteinLevel("phone", 1)),
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
    `nguyen van anh` alone is shared by thousands of people in a million records, millions of pairs."""
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
    ]
    # Pairs inside one cluster are linked already: not scoring them saves the work and keeps them out of the answer.
    return [And(rule, CustomRule("l.cluster <> r.cluster")) for rule in rules]


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
            prior = _estimate_prior(db_api, records, counts["n_rows"])
            model = _train(engine, db_api, records, prior, settings, counts["n_rows"])
            linker = Linker(db_api.register(records), model, log_level=None)
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
    """The trained model, as Splink's settings dictionary."""
    linker = Linker(db_api.register(records), _settings(prior), log_level=None)
    # Splink's default of ten chunks re-joins the sample ten times per comparison when a rare level (day and month
    # swapped) never reaches its early-stop count; one chunk per U_PAIRS_PER_CHUNK pairs is several times faster.
    chunks = max(1, math.ceil(settings.max_pairs / U_PAIRS_PER_CHUNK))
    linker.training.estimate_u_using_random_sampling(
        max_pairs=settings.max_pairs, seed=settings.seed, num_chunks=chunks, min_count_per_level=None
    )
    model = linker.misc.save_model_to_json()
    sessions = []
    for columns in EM_RULES:
        # Checked first: a blocking rule without pairs is an error in Splink, after a query to find that out.
        if not _has_pairs(engine, records, columns):
            log.info("no two records share %s: no EM on them", " and ".join(columns))
            continue
        trained = _expectation_maximisation(db_api, records, model, columns, settings.max_pairs)
        if trained is not None:
            sessions.append(trained)
    return _with_floors(_combine(model, sessions), min(settings.max_pairs, n_rows * (n_rows - 1) // 2))


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
