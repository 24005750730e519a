"""Intake formats: one codec (writer and reader) per format, shared by furnishing and bureaus.

Use :func:`get_codec` with a format name from a bureau profile; :data:`CODECS` lists them.
"""

from __future__ import annotations

from bureau.errors import BureauError
from bureau.formats.base import REJECT_COLUMNS, Codec, FeedError, ParsedFeed
from bureau.formats.csv_gb18030 import CsvGb18030Codec
from bureau.formats.fixed_width import FixedWidthCodec
from bureau.formats.jsonl import JsonLinesCodec
from bureau.formats.schema import RECORDS, STATUS_CODES, FieldSpec, from_text, to_text

#: The codecs by name.
CODECS: dict[str, Codec] = {
    codec.name: codec for codec in (JsonLinesCodec(), CsvGb18030Codec(), FixedWidthCodec())
}


def get_codec(name: str) -> Codec:
    """Return the codec of an intake format.

    Parameters
    ----------
    name
        A format name, as in a bureau profile: ``jsonl``, ``csv_gb18030`` or ``fixed_width``.

    Returns
    -------
    Codec
        The format's codec.

    Raises
    ------
    BureauError
        If no codec has that name.
    """
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(sorted(CODECS))
        raise BureauError(f"unknown intake format {name!r} (known: {known})") from None


__all__ = [
    "CODECS",
    "RECORDS",
    "REJECT_COLUMNS",
    "STATUS_CODES",
    "Codec",
    "CsvGb18030Codec",
    "FeedError",
    "FieldSpec",
    "FixedWidthCodec",
    "JsonLinesCodec",
    "ParsedFeed",
    "from_text",
    "get_codec",
    "to_text",
]
