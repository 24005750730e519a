"""What every intake-format codec provides: a writer and a reader of feed files.

A feed file holds the records of one record type, from one data source, for one reporting
month, in one bureau's intake format. The writer takes canonical typed records (see
:mod:`bureau.formats.schema`); the reader gives them back as *text* in canonical form (months
``YYYY-MM``, amounts as whole fen, booleans ``"1"``/``"0"``), one string column per field, with
each record's line number and raw text. Typing and checking values is ingestion's job (the
validation rules), so a reader never drops a record for a bad value: it drops only what it
cannot split into fields, and reports that as a reject with a rule id.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from bureau.errors import BureauError

REJECT_COLUMNS = ("line", "rule_id", "field", "message", "raw")


class FeedError(BureauError):
    """A feed file that cannot be parsed at all: nothing of it may be loaded."""


@dataclass
class ParsedFeed:
    """The content of one feed file.

    Attributes
    ----------
    path
        The file.
    record_type
        One of :data:`bureau.formats.schema.RECORDS`.
    records
        One row per record: one string column per canonical field (``<NA>`` where absent),
        plus ``line`` (1-based line or record number in the file) and ``raw`` (the record's
        original text).
    rejects
        Records that could not be split into fields: columns :data:`REJECT_COLUMNS`.
    header
        What the file says about itself (sender, month, declared counts), where the format
        has a header.
    """

    path: Path
    record_type: str
    records: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=REJECT_COLUMNS))
    header: dict[str, str] = field(default_factory=dict)


class Codec(ABC):
    """One intake format: its writer and its reader, kept together so they cannot drift."""

    #: The format's name as used in bureau profiles.
    name: str
    #: The file suffix, with the dot.
    suffix: str
    #: The line number of a file's first record (after any header); a record's line is this
    #: plus its position among the records.
    first_record_line: int = 1

    @abstractmethod
    def write(
        self, path: Path, record_type: str, frame: pd.DataFrame, *, sender: str, month: str
    ) -> None:
        """Write records of one type to ``path``.

        Parameters
        ----------
        path
            The file to write (its directory exists).
        record_type
            A key of :data:`bureau.formats.schema.RECORDS`.
        frame
            Canonical typed records with the record type's columns (extra columns ignored).
        sender
            The data source's id, for formats with a header.
        month
            The reporting month ``YYYY-MM``, for formats with a header.
        """

    @abstractmethod
    def read(self, path: Path) -> ParsedFeed:
        """Read a feed file.

        Raises
        ------
        FeedError
            If the file cannot be parsed at all (unreadable, wrong encoding throughout, not
            this format, a trailer whose counts disagree, an unknown record type).
        """
