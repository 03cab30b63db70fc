"""Persistence: the SQL conversation store (SQLite or PostgreSQL) and its migrations."""

from core.store.engine import create_engine, normalize_database_url
from core.store.migrate import current_revision, head_revision, is_up_to_date, upgrade
from core.store.sql import SqlStore, UnknownAnswerError

__all__ = [
    "SqlStore",
    "UnknownAnswerError",
    "create_engine",
    "current_revision",
    "head_revision",
    "is_up_to_date",
    "normalize_database_url",
    "upgrade",
]
