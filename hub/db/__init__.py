"""The database kernel: declarative base, portable column types, one engine per process."""

from hub.db.base import Base
from hub.db.engine import Database, create_database

__all__ = ["Base", "Database", "create_database"]
