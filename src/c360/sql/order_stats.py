"""The order-stats job as portable SQL: per (user_id, currency) order count, spend, first and last order time."""

from __future__ import annotations

from c360.sql.pipeline import Pipeline

#: The table name the job reads; the service registers the lake's files under it.
EVENTS = "events"

#: Columns of the result, in order; the same as the store's ``order_stats`` table without ``computed_at``.
ORDER_STATS_COLUMNS = ("user_id", "currency", "order_count", "total_spend_minor", "first_order_at", "last_order_at")


def order_stats_pipeline() -> Pipeline:
    # The lake fills currency with the workspace default for order events, so it is never NULL there; the filter
    # keeps a NULL out of the store's primary key should an older file lack it. An order without an amount still
    # counts as an order and adds nothing to the spend.
    return (
        Pipeline()
        .then(
            "orders",
            f"""
            SELECT user_id, currency, amount_minor, "timestamp"
            FROM {EVENTS}
            WHERE type = 'track' AND event = 'Order Completed' AND user_id IS NOT NULL AND currency IS NOT NULL
            """,
        )
        .then(
            "order_stats",
            """
            SELECT
                user_id,
                currency,
                count(*) AS order_count,
                CAST(coalesce(sum(amount_minor), 0) AS BIGINT) AS total_spend_minor,
                min("timestamp") AS first_order_at,
                max("timestamp") AS last_order_at
            FROM orders
            GROUP BY user_id, currency
            """,
        )
    )
