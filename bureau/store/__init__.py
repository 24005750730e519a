"""Storage: Parquet tables for bulk data."""

from bureau.store.parquet import read_table, write_table

__all__ = ["read_table", "write_table"]
