"""Writes are whole or absent: a full disk leaves neither half a file nor its temporary."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from bureau.errors import RunDirectoryError
from bureau.rundir import write_text_atomic
from bureau.store.parquet import read_table, write_table


def _full_disk(*_args, **_kwargs):
    where = _args[1] if len(_args) > 1 else _kwargs.get("where")
    Path(where).write_bytes(b"PAR1 half")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_no_parquet_file_behind(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(pq, "write_table", _full_disk)
    with pytest.raises(OSError, match="No space left"):
        write_table(pd.DataFrame({"a": [1, 2]}), tmp_path / "t" / "part-00000.parquet")
    assert list((tmp_path / "t").iterdir()) == []


def test_a_full_disk_leaves_a_text_file_as_it_was(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "manifest.json"
    path.write_text("before")

    original = Path.write_bytes

    def full(self: Path, data: bytes) -> int:
        original(self, data[:2])  # the disk fills up partway through
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(Path, "write_bytes", full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(path, "after")
    monkeypatch.undo()
    assert path.read_text() == "before"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_a_truncated_table_file_is_named(tmp_path: Path) -> None:
    table = tmp_path / "persons"
    write_table(pd.DataFrame({"a": range(100)}), table / "part-00000.parquet")
    write_table(pd.DataFrame({"a": range(100)}), table / "part-00001.parquet")
    second = table / "part-00001.parquet"
    second.write_bytes(second.read_bytes()[:-20])
    with pytest.raises(RunDirectoryError, match="damaged or truncated") as caught:
        read_table(table)
    assert caught.value.path == second
