"""JSON Lines, a platform's API export.

Layout
------
UTF-8, one JSON object per line, LF-terminated; no header, no trailer::

    {"type":"tradeline","furnisher":"P01","amount":"1234.56","term_months":12,...}

- ``type`` is the record type; a file holds one record type.
- ``text`` and ``month`` fields are JSON strings (months ``"2018-07"``).
- ``fen`` amounts are yuan strings with two decimals (``"1234.56"``), converted to and from
  whole fen by string arithmetic, never through floating point.
- ``int`` fields are JSON numbers, ``bool`` fields JSON ``true``/``false``.
- A missing value is an omitted key (the reader also accepts ``null``).
- Unknown keys are ignored.

Reader
------
``pyarrow.json`` parses blocks of lines in parallel with an explicit schema. A line it refuses
(see :class:`~bureau.formats.jsonl_reader.JsonLinesReader` for how it is found) is parsed
with :mod:`json`, which either accepts it (a value of another JSON type than expected, passed
through as text) or reports it as a reject:

``P001``
    The line is not valid JSON, or not a JSON object.
``P002``
    The object's ``type`` is missing, unknown, or differs from the file's record type (that of
    its first valid record).
``P003``
    The object repeats a key (``type`` or a field of its record type): which value is meant is
    ambiguous.
``P004``
    The line is not valid UTF-8.
``P005``
    The line nests arrays or objects more than 100 levels deep: no record is built like that,
    and a parser would have to recurse that deep to say what is wrong with it.

``P006``
    A field's value holds a control character (U+0000 to U+001F other than tab) written as an
    escape (``\u0000``): a NUL or an escape sequence in an account number makes another
    account, so it is refused as the other formats refuse it.

A raw control character inside a string is not JSON, so its line is a ``P001`` reject.

Values of an unexpected form are passed through as text for validation to flag: a yuan amount
that is not ``-?digits[.d[d]]`` keeps its raw text, a number in a text field its JSON text, a
nested array or object its JSON serialisation. Blank lines are skipped. A rejected line's raw
text is kept up to its first :data:`~bureau.formats._results.RAW_CHARS` characters.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa

from bureau.formats._bytes import utf8_bytes
from bureau.formats._canonical import arrow_strings, concat
from bureau.formats._controls import refuse_controls
from bureau.formats._results import check_record_type
from bureau.formats.base import Codec, FeedError, ParsedFeed
from bureau.formats.json_text import json_values
from bureau.formats.jsonl_reader import JsonLinesReader
from bureau.formats.schema import RECORDS, to_text


class JsonLinesCodec(Codec):
    """JSON Lines feeds: one UTF-8 JSON object per line, amounts as yuan strings."""

    name = "jsonl"
    suffix = ".jsonl"

    def write(
        self, path: Path, record_type: str, frame: pd.DataFrame, *, sender: str, month: str
    ) -> None:
        """Write records of one type as JSON Lines (``sender`` and ``month`` are not stored).

        See :meth:`bureau.formats.base.Codec.write`.
        """
        path = Path(path)
        check_record_type(record_type, path)
        text = to_text(frame, record_type)
        if len(text) == 0:
            raise FeedError("no records: a JSON Lines feed cannot be empty", path=path)
        parts: list[pa.Array | str] = ['{"type":' + json.dumps(record_type)]
        for spec in RECORDS[record_type]:
            column = arrow_strings(text[spec.name])
            refuse_controls(path, column, spec.name, "a JSON Lines value")
            values = json_values(column, spec)
            key = f',"{spec.name}":'
            if values.null_count:
                # A missing value is an omitted key: the key goes with the value.
                parts.append(concat(key, values).fill_null(""))
            else:
                parts += [key, values]
        lines = concat(*parts, "}\n")
        path.write_bytes(utf8_bytes(lines))

    def read(self, path: Path) -> ParsedFeed:
        """Read a JSON Lines feed.

        Parameters
        ----------
        path
            The file.

        Returns
        -------
        ParsedFeed
            Records as canonical text, bad lines as rejects (``P001``-``P005``).

        Raises
        ------
        FeedError
            If the file is empty, not UTF-8 at all, or has no valid record.
        """
        path = Path(path)
        data = path.read_bytes()
        if not data:
            raise FeedError("empty file", path=path)
        # Some Windows tools start UTF-8 files with a byte-order mark; it is not content.
        return JsonLinesReader(path, data.removeprefix(b"\xef\xbb\xbf")).read()
