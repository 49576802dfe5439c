"""The operational store: profiles, identity map, loyalty ledger, memberships, consent, keys and audit.

SQLAlchemy Core over a SQLite file (WAL) by default, or PostgreSQL by URL.
"""

from c360.store.db import Database, Store, open_database

__all__ = ["Database", "Store", "open_database"]
