"""How each codec handles the committed corpus of broken files (see corpus/README.md)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bureau.formats import CODECS, FeedError, ParsedFeed

CORPUS = Path(__file__).parent / "corpus"

# Files refused whole: (codec, file) -> (message pattern, row, field).
REFUSED: dict[tuple[str, str], tuple[str, int | None, str | None]] = {
    ("jsonl", "empty.jsonl"): ("empty file", None, None),
    ("jsonl", "binary_garbage.jsonl"): ("no valid JSON record", None, None),
    ("jsonl", "wrong_encoding_gb18030.jsonl"): ("not UTF-8 text", None, None),
    ("jsonl", "no_valid_record.jsonl"): ("no valid JSON record", None, None),
    ("csv_gb18030", "empty.csv"): ("empty file", None, None),
    ("csv_gb18030", "binary_garbage.csv"): ("header is not a line of GB18030 CSV", 1, None),
    ("csv_gb18030", "wrong_encoding_utf8.csv"): ("encoded in UTF-8, not GB18030", 1, None),
    ("csv_gb18030", "invalid_bytes.csv"): ("not GB18030: undecodable bytes", 3, None),
    ("csv_gb18030", "missing_column.csv"): ("missing required column", 1, "余额(分)"),
    ("csv_gb18030", "unknown_header.csv"): ("matches no record type", 1, None),
    ("csv_gb18030", "duplicate_column.csv"): ("duplicate column", 1, "账户编号"),
    ("csv_gb18030", "mixed_header.csv"): ("mixes columns of tradeline and inquiry", 1, None),
    ("fixed_width", "empty.dat"): ("empty file", None, None),
    ("fixed_width", "binary_garbage.dat"): ("no header record", 1, None),
    ("fixed_width", "wrong_encoding_utf16.dat"): ("no header record", 1, None),
    ("fixed_width", "missing_header.dat"): ("no header record", 1, None),
    ("fixed_width", "unknown_type_code.dat"): ("unknown record type code 'XX'", 1, None),
    ("fixed_width", "truncated.dat"): ("no trailer record: the file is truncated", 3, None),
    ("fixed_width", "trailer_count_mismatch.dat"): (
        "trailer counts 3 records, the file has 2",
        4,
        None,
    ),
    ("fixed_width", "trailer_sum_mismatch.dat"): (
        "control total of balance is 62346, the records sum to 62345",
        5,
        "balance",
    ),
    ("fixed_width", "concatenated.dat"): ("trailer counts 3 records, the file has 8", 10, None),
}

# Files read with rejects or pass-through values: each has its own test below.
READ = {
    ("jsonl", "truncated.jsonl"),
    ("jsonl", "mixed_types.jsonl"),
    ("jsonl", "not_objects.jsonl"),
    ("jsonl", "partly_not_utf8.jsonl"),
    ("jsonl", "duplicate_keys.jsonl"),
    ("jsonl", "invalid_values.jsonl"),
    ("jsonl", "inquiry_bools.jsonl"),
    ("jsonl", "crlf_bom.jsonl"),
    ("jsonl", "deep_nesting.jsonl"),
    ("jsonl", "control_characters.jsonl"),
    ("csv_gb18030", "truncated.csv"),
    ("csv_gb18030", "wrong_column_count.csv"),
    ("csv_gb18030", "invalid_values.csv"),
    ("csv_gb18030", "inquiry_bools.csv"),
    ("csv_gb18030", "reordered_extra_columns.csv"),
    ("csv_gb18030", "crlf.csv"),
    ("csv_gb18030", "control_characters.csv"),
    ("csv_gb18030", "long_line.csv"),
    ("fixed_width", "wrong_length.dat"),
    ("fixed_width", "not_detail.dat"),
    ("fixed_width", "wrong_encoding_utf8.dat"),
    ("fixed_width", "invalid_values.dat"),
    ("fixed_width", "inquiry_bools.dat"),
    ("fixed_width", "crlf.dat"),
    ("fixed_width", "blank_line.dat"),
    ("fixed_width", "control_characters.dat"),
}


def _read(codec: str, name: str) -> ParsedFeed:
    return CODECS[codec].read(CORPUS / codec / name)


def _rejects(parsed: ParsedFeed) -> list[tuple[int, str]]:
    return list(zip(parsed.rejects["line"], parsed.rejects["rule_id"], strict=True))


def _column(parsed: ParsedFeed, name: str) -> list[object]:
    return [None if pd.isna(v) else v for v in parsed.records[name]]


def test_every_corpus_file_is_tested_and_documented() -> None:
    on_disk = {(path.parent.name, path.name) for path in CORPUS.glob("*/*") if path.is_file()}
    assert on_disk == set(REFUSED) | READ
    assert not set(REFUSED) & READ
    readme = (CORPUS / "README.md").read_text(encoding="utf-8")
    assert [name for _, name in sorted(on_disk) if f"`{name}`" not in readme] == []


@pytest.mark.parametrize(("codec", "name"), sorted(REFUSED))
def test_refused_files(codec: str, name: str) -> None:
    pattern, row, field = REFUSED[codec, name]
    path = CORPUS / codec / name
    with pytest.raises(FeedError, match=pattern) as error:
        CODECS[codec].read(path)
    assert error.value.path == path
    assert str(path) in str(error.value)
    assert (error.value.row, error.value.field) == (row, field)


# ---------------------------------------------------------------------------- jsonl


def test_jsonl_truncated_last_line_is_a_reject() -> None:
    parsed = _read("jsonl", "truncated.jsonl")
    assert parsed.records["line"].tolist() == [1, 2, 3]
    assert _rejects(parsed) == [(4, "P001")]
    assert parsed.rejects["raw"][0].startswith('{"type": "tradeline"')


def test_jsonl_other_record_types_are_rejects() -> None:
    parsed = _read("jsonl", "mixed_types.jsonl")
    assert parsed.record_type == "tradeline"
    assert parsed.records["line"].tolist() == [2, 5]
    assert _rejects(parsed) == [(1, "P002"), (3, "P002"), (4, "P002")]
    assert parsed.rejects["field"].tolist() == ["type"] * 3
    assert "differs from the file's 'tradeline'" in parsed.rejects["message"][1]


def test_jsonl_lines_that_are_not_objects_are_rejects() -> None:
    parsed = _read("jsonl", "not_objects.jsonl")
    assert parsed.records["line"].tolist() == [1, 7]  # blank lines 6 and 8 are skipped
    assert _rejects(parsed) == [(2, "P001"), (3, "P001"), (4, "P001"), (5, "P001")]
    assert parsed.rejects["raw"].tolist()[:2] == ["[1, 2, 3]", "42"]


def test_jsonl_line_not_in_utf8_is_a_reject() -> None:
    parsed = _read("jsonl", "partly_not_utf8.jsonl")
    assert parsed.records["account_ref"].tolist() == ["A1", "A3"]
    assert _rejects(parsed) == [(2, "P004")]
    assert "\ufffd" in parsed.rejects["raw"][0]


def test_jsonl_duplicate_keys() -> None:
    parsed = _read("jsonl", "duplicate_keys.jsonl")
    assert _rejects(parsed) == [(1, "P003"), (2, "P003")]
    assert parsed.rejects["field"].tolist() == ["amount", "type"]
    # A repeated key that is no field is ignored; a repeated record is validation's business.
    assert parsed.records["line"].tolist() == [3, 4, 5]
    assert parsed.records["account_ref"].tolist() == ["A2", "A2", "A3"]


def test_jsonl_bad_values_pass_through_as_text() -> None:
    parsed = _read("jsonl", "invalid_values.jsonl")
    assert parsed.rejects.empty
    assert _column(parsed, "report_month") == ["2018-13", "2018-07", "2018-07", None, "2018-07"]
    assert _column(parsed, "opened")[0] == "201701"
    # Yuan to fen where exact (a JSON number too), raw text where not.
    assert _column(parsed, "amount") == ["100000", "-1250", "abc", "123450", "100000"]
    assert _column(parsed, "balance") == ["50000", "12.345", "700", "10000", "50000"]
    assert _column(parsed, "payment") == ["8000", "1,234.00", "50", None, "8000"]
    assert _column(parsed, "term_months") == ["12", "12", "12", "12", "12.0"]
    row = parsed.records.iloc[3]
    assert row["name"] == '{"given":"三"}'
    assert row["phone"] == "13800138000"
    assert pd.isna(row["status"]) and pd.isna(row["account_ref"])
    assert parsed.records["name"][4] == "欧阳" * 15  # over-long: validation's business
    assert parsed.records["account_ref"][4] == "A" * 30


def test_jsonl_booleans() -> None:
    parsed = _read("jsonl", "inquiry_bools.jsonl")
    assert parsed.record_type == "inquiry"
    assert _column(parsed, "approved") == ["1", "yes", "0", None]


def test_jsonl_bom_and_crlf_are_accepted() -> None:
    parsed = _read("jsonl", "crlf_bom.jsonl")
    assert parsed.rejects.empty
    assert parsed.records["account_ref"].tolist() == ["A1", "A2"]
    assert not parsed.records["raw"].str.endswith("\r").any()


def test_jsonl_lines_nested_too_deeply_are_rejects() -> None:
    parsed = _read("jsonl", "deep_nesting.jsonl")
    assert parsed.records["account_ref"].tolist() == ["A1", "A4"]
    assert _rejects(parsed) == [(2, "P005"), (3, "P005")]
    assert parsed.rejects["message"].tolist() == ["nested more than 100 levels deep"] * 2


def test_jsonl_control_characters_are_rejects_raw_or_escaped() -> None:
    parsed = _read("jsonl", "control_characters.jsonl")
    # A raw control character is not JSON (P001); an escaped one would make another account
    # out of "A2" as a NUL does in the other formats (P006). A tab is text.
    assert parsed.records["account_ref"].tolist() == ["A1", "A4", "A5"]
    assert parsed.records["name"][1] == "张\t三"
    assert _rejects(parsed) == [(2, "P006"), (3, "P006"), (6, "P001")]
    assert parsed.rejects["message"][0] == "control character U+0000 in account_ref"
    assert "control character" in parsed.rejects["message"][2]


# ---------------------------------------------------------------------------- csv


def test_csv_truncated_last_line_is_a_reject() -> None:
    parsed = _read("csv_gb18030", "truncated.csv")
    assert parsed.records["line"].tolist() == [2, 3]
    assert _rejects(parsed) == [(4, "C001")]
    assert parsed.rejects["raw"][0] == "BANK01,A3,消费贷,201807"
    assert parsed.rejects["message"][0] == "4 fields, expected 13"


def test_csv_rows_that_cannot_be_split_are_rejects() -> None:
    parsed = _read("csv_gb18030", "wrong_column_count.csv")
    assert parsed.records["line"].tolist() == [2, 8]  # line 4 is blank
    assert parsed.records["account_ref"].tolist() == ["A1", "A,11"]
    assert _rejects(parsed) == [(3, "C001"), (5, "C001"), (6, "C002"), (7, "C002"), (9, "C001")]


def test_csv_bad_values_pass_through_as_text() -> None:
    parsed = _read("csv_gb18030", "invalid_values.csv")
    assert parsed.rejects.empty
    assert _column(parsed, "report_month")[0] == "201813"
    assert _column(parsed, "opened")[:2] == ["2017-01", "2017/01"]
    assert _column(parsed, "amount")[1:3] == ["-500", "120"]
    assert _column(parsed, "balance")[1] == "12.50"
    assert _column(parsed, "term_months")[2] == "0"
    assert _column(parsed, "payment")[2] == "1e3"
    assert parsed.records["name"][3] == "欧阳" * 15
    assert parsed.records["account_ref"][3] == "A" * 30
    assert _column(parsed, "status")[4] is None
    assert parsed.records["account_ref"].tolist().count("A1") == 5


def test_csv_booleans() -> None:
    parsed = _read("csv_gb18030", "inquiry_bools.csv")
    assert parsed.record_type == "inquiry"
    assert _column(parsed, "approved") == ["1", "Y", "0", None]
    assert _column(parsed, "national_id") == [None] * 4


def test_csv_columns_in_any_order_and_unknown_ones_ignored() -> None:
    parsed = _read("csv_gb18030", "reordered_extra_columns.csv")
    assert parsed.rejects.empty
    assert parsed.header == {"ignored_columns": "备注"}
    assert parsed.records["account_ref"].tolist() == ["A1", "A2"]
    assert parsed.records["report_month"].tolist() == ["2018-07", "2018-07"]
    assert _column(parsed, "name") == [None, None]


def test_csv_crlf_is_accepted() -> None:
    parsed = _read("csv_gb18030", "crlf.csv")
    assert parsed.rejects.empty
    assert parsed.records["phone"].tolist() == ["13800138000"] * 3
    assert parsed.records["line"].tolist() == [2, 3, 4]


def test_csv_control_characters_in_fields_are_rejects() -> None:
    parsed = _read("csv_gb18030", "control_characters.csv")
    assert parsed.records["account_ref"].tolist() == ["A1", "A\t5"]
    assert _rejects(parsed) == [(3, "C004"), (4, "C004"), (5, "C004")]
    assert parsed.rejects["field"].tolist() == ["account_ref", "phone", "account_ref"]
    assert parsed.rejects["message"].tolist() == [
        "control character U+0000 in account_ref",
        "control character U+0001 in phone",
        "control character U+001B in account_ref",
    ]


def test_csv_line_longer_than_any_record_is_a_reject() -> None:
    parsed = _read("csv_gb18030", "long_line.csv")
    assert parsed.records["account_ref"].tolist() == ["A1", "A3"]
    assert _rejects(parsed) == [(3, "C003")]
    assert (
        parsed.rejects["message"][0]
        == "line of 70,088 bytes, longer than a record can be (at most 65,536)"
    )
    # The raw text kept is a bounded prefix of the line.
    assert len(parsed.rejects["raw"][0]) < 5000


def test_csv_field_too_large_for_arrow_is_one_reject(tmp_path: Path) -> None:
    source = (CORPUS / "csv_gb18030" / "crlf.csv").read_bytes().replace(b"\r\n", b"\n")
    lines = source.split(b"\n")
    huge = lines[2].replace(b"A2", b"X" * (33 << 20))
    path = tmp_path / "huge.csv"
    path.write_bytes(b"\n".join([*lines[:2], huge, *lines[3:]]))
    parsed = CODECS["csv_gb18030"].read(path)
    assert parsed.records["account_ref"].tolist() == ["A1", "A3"]
    assert _rejects(parsed) == [(3, "C003")]


# ---------------------------------------------------------------------------- fixed width


def test_fixed_width_records_of_the_wrong_length_are_rejects() -> None:
    parsed = _read("fixed_width", "wrong_length.dat")
    assert parsed.records["account_ref"].tolist() == ["A1"]
    assert _rejects(parsed) == [(3, "F001"), (4, "F001")]
    assert parsed.rejects["message"].tolist() == [
        "200 bytes, expected 279",
        "284 bytes, expected 279",
    ]
    assert parsed.rejects["raw"][1].endswith("EXTRA")
    # With records missing, the control total cannot be recomputed.
    assert parsed.header["control_total_checked"] == "no"


def test_fixed_width_body_record_that_is_not_a_detail_is_a_reject() -> None:
    parsed = _read("fixed_width", "not_detail.dat")
    assert parsed.records["line"].tolist() == [2, 4]
    assert _rejects(parsed) == [(3, "F002")]
    assert parsed.rejects["raw"][0].startswith("XBANK01")


def test_fixed_width_utf8_text_breaks_record_lengths() -> None:
    parsed = _read("fixed_width", "wrong_encoding_utf8.dat")
    assert _rejects(parsed) == [(2, "F001"), (3, "F001"), (4, "F001")]
    assert parsed.records["line"].tolist() == [5]
    assert parsed.records["product"].tolist() == ["XFD"]


def test_fixed_width_bad_values_pass_through_as_text() -> None:
    parsed = _read("fixed_width", "invalid_values.dat")
    assert parsed.rejects.empty
    assert parsed.header["control_total_checked"] == "yes"
    assert _column(parsed, "report_month")[0] == "201813"
    assert _column(parsed, "opened")[0] == "2017AB"
    assert _column(parsed, "term_months")[1:3] == ["0-12", "12"]
    assert _column(parsed, "amount")[1] == "-500"
    assert _column(parsed, "payment")[2] == "0000000012,345"
    assert _column(parsed, "status")[2] == "?"
    # The same account twice: both records, for validation to deduplicate.
    assert parsed.records["account_ref"].tolist() == ["A1", "A2", "A3", "A1"]


def test_fixed_width_booleans() -> None:
    parsed = _read("fixed_width", "inquiry_bools.dat")
    assert parsed.record_type == "inquiry"
    assert parsed.header["control_total"] == "0"
    assert _column(parsed, "approved") == ["1", "Y", None]


def test_fixed_width_crlf_is_accepted() -> None:
    parsed = _read("fixed_width", "crlf.dat")
    assert parsed.rejects.empty
    assert parsed.records["name"].tolist() == ["张三", "李四", "王五"]
    # 279 bytes, of which five 汉字 of two bytes each.
    assert parsed.records["raw"].str.len().tolist() == [274, 274, 274]


def test_fixed_width_blank_body_line_is_a_short_record() -> None:
    parsed = _read("fixed_width", "blank_line.dat")
    assert parsed.records["account_ref"].tolist() == ["A1", "A3"]
    assert _rejects(parsed) == [(3, "F001")]
    assert parsed.rejects["message"][0] == "0 bytes, expected 279"


def test_fixed_width_control_characters_in_fields_are_rejects() -> None:
    parsed = _read("fixed_width", "control_characters.dat")
    assert parsed.records["account_ref"].tolist() == ["A3\t", "A4"]
    assert _rejects(parsed) == [(2, "F003"), (3, "F003")]
    assert parsed.rejects["field"].tolist() == ["account_ref", "phone"]
    assert parsed.rejects["message"][1] == "control character U+0007 in phone"
    # The records were split, so the trailer's control total still covers them.
    assert parsed.header["control_total_checked"] == "yes"


@pytest.mark.parametrize("codec", ["csv_gb18030", "fixed_width"])
def test_writers_refuse_control_characters(codec: str, tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "furnisher": ["B"],
            "inquiry_ref": ["Q1\x00"],
            "product": ["consumer_loan"],
            "month": ["2018-07"],
            "approved": [True],
            "name": ["x"],
            "national_id": [None],
            "phone": [None],
        }
    )
    with pytest.raises(FeedError, match="control character") as error:
        CODECS[codec].write(tmp_path / "f", "inquiry", frame, sender="B", month="2018-07")
    assert (error.value.row, error.value.field) == (1, "inquiry_ref")
