"""Splink alone: the reference that bench/identity.py measures `c360 resolve` against, in the same run.

A pinned Splink 5 model on DuckDB over a customer CSV with FEBRL's columns (`rec_id`, `given_name`, `surname`,
`street_number`, `address_1`, `address_2`, `suburb`, `postcode`, `state`, `date_of_birth` as `%Y%m%d`,
`soc_sec_id`, `phone_number`), deduplicating it:

    .venv/bin/python bench/splink_reference.py FILE.csv --out clusters.csv [--threads 2] [--memory-limit 4GB]

- load: the CSV read by DuckDB (every column as text) into one table of cleaned columns: names lower case and
  trimmed, the date of birth as a DATE (unreadable ones NULL), the address as street number + address 1 + 2,
  the suburb as the city, the phone as its digits (a leading country code 84 read as
  the trunk 0, as c360 reads `+84 912 345 678` and `0912345678` as one number). Empty values are NULL.
- comparisons: forename + surname (Splink's `ForenameSurnameComparison`: exact, swapped, Jaro-Winkler 0.92 and
  0.88), date of birth (`DateOfBirthComparison`: exact, one edit, within a month, a year, ten years), address
  (Jaro-Winkler 0.95 / 0.88), postcode (exact, one edit), city (exact, Jaro-Winkler 0.9), national id and phone
  (exact, one edit, two edits). No term-frequency adjustments.
- prediction blocking: national id; phone; forename + surname; date of birth + postcode.
- training: the prior from two deterministic rules (national id + date of birth; forename + surname + date of
  birth) taken to find 70 % of the true pairs; u from `estimate_u_using_random_sampling(max_pairs=1e6, seed=42)`;
  m by expectation maximisation on forename + surname, then on national id.
- predict at match probability 0.95, then `cluster_pairwise_predictions_at_threshold(0.95)`.
- DuckDB: an in-memory connection with `threads` and `memory_limit` set (default 2 and
  4GB: pinned, as the issue measured Splink; c360's own default limit is 2GB).

It prints one JSON object: the seconds of each phase, the records, the scored pairs, the clusters and this
process's peak resident memory (`resource.getrusage`, in KB). `--out` gets `rec_id,cluster_id` per record.
"""

from __future__ import annotations

import argparse
import json
import logging
import resource
import time
from pathlib import Path
from typing import Any

THRESHOLD = 0.95
MAX_PAIRS_U = 1e6
SEED = 42

LOAD_SQL = """
CREATE TABLE records AS
SELECT
    rec_id AS unique_id,
    nullif(lower(trim(given_name)), '') AS first_name,
    nullif(lower(trim(surname)), '') AS surname,
    try_strptime(nullif(trim(date_of_birth), ''), '%Y%m%d')::DATE AS dob,
    nullif(lower(trim(concat_ws(' ', nullif(trim(street_number), ''), nullif(trim(address_1), ''),
                                nullif(trim(address_2), '')))), '') AS address,
    nullif(trim(postcode), '') AS postcode,
    nullif(lower(trim(suburb)), '') AS city,
    nullif(trim(soc_sec_id), '') AS national_id,
    nullif(regexp_replace(regexp_replace(coalesce(phone_number, ''), '[^0-9]', '', 'g'), '^84', '0'), '') AS phone
FROM read_csv(?, header = true, all_varchar = true)
"""


def settings() -> Any:
    """The pinned model (a SettingsCreator; the same for every size of input)."""
    import splink.comparison_library as cl
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "surname"),
            cl.DateOfBirthComparison("dob", input_is_string=False),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.88]),
            cl.LevenshteinAtThresholds("postcode", [1]),
            cl.JaroWinklerAtThresholds("city", [0.9]),
            cl.LevenshteinAtThresholds("national_id", [1, 2]),
            cl.LevenshteinAtThresholds("phone", [1, 2]),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("national_id"),
            block_on("phone"),
            block_on("first_name", "surname"),
            block_on("dob", "postcode"),
        ],
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )


def run(path: Path, out: Path | None, *, threads: int = 2, memory_limit: str = "4GB") -> dict[str, Any]:
    """Dedupe ``path`` with the pinned model; the phases' seconds and counts."""
    import duckdb
    from splink import DuckDBAPI, Linker, block_on

    seconds: dict[str, float] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {int(threads)}").fetchall()
    con.execute("SET memory_limit = ?", [memory_limit]).fetchall()
    con.execute("SET preserve_insertion_order = false").fetchall()
    con.execute(LOAD_SQL, [str(path)]).fetchall()
    records = con.execute("SELECT count(*) FROM records").fetchall()[0][0]
    db_api = DuckDBAPI(con)
    linker = Linker(db_api.register("records"), settings(), log_level=logging.ERROR)
    seconds["load"] = time.perf_counter() - started

    mark = time.perf_counter()
    linker.training.estimate_probability_two_random_records_match(
        [block_on("national_id", "dob"), block_on("first_name", "surname", "dob")], recall=0.7
    )
    linker.training.estimate_u_using_random_sampling(max_pairs=MAX_PAIRS_U, seed=SEED)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("first_name", "surname"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("national_id"))
    seconds["train"] = time.perf_counter() - mark

    mark = time.perf_counter()
    predictions = linker.inference.predict(threshold_match_probability=THRESHOLD, warning_mode="never")
    pairs = con.execute(f"SELECT count(*) FROM {predictions.physical_name}").fetchall()[0][0]
    seconds["predict"] = time.perf_counter() - mark

    mark = time.perf_counter()
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, THRESHOLD)
    count = con.execute(f"SELECT count(DISTINCT cluster_id) FROM {clusters.physical_name}").fetchall()[0][0]
    seconds["cluster"] = time.perf_counter() - mark
    seconds["total"] = time.perf_counter() - started

    if out is not None:
        con.execute(
            f"COPY (SELECT unique_id AS rec_id, cluster_id FROM {clusters.physical_name} ORDER BY rec_id) "
            "TO ? (HEADER, DELIMITER ',')",
            [str(out)],
        ).fetchall()
    con.close()
    return {"records": records, "pairs": pairs, "clusters": count, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("file", type=Path, help="a CSV with FEBRL's columns (and phone_number)")
    parser.add_argument("--out", type=Path, help="write rec_id,cluster_id here (CSV)")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    parser.add_argument("--memory-limit", default="4GB", help="DuckDB memory limit (default 4GB)")
    args = parser.parse_args()
    result = run(args.file, args.out, threads=args.threads, memory_limit=args.memory_limit)
    result["peak_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(result))


if __name__ == "__main__":
    main()
