"""The bureaus: each one's ingestion pipeline and credit files (never the world's truth)."""

from bureau.bureaus.ingest import IngestReport, bureau_engine, ingest_all, ingest_bureau
from bureau.bureaus.rules import RULES

__all__ = ["RULES", "IngestReport", "bureau_engine", "ingest_all", "ingest_bureau"]
