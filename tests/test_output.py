"""Reports are written atomically: the old file stays whole until the new one is."""

from __future__ import annotations

import os

import pytest
from tlsmatrix.errors import UsageError
from tlsmatrix.reports import output


def test_the_target_holds_the_old_report_until_the_new_one_is_complete(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text('{"old": true}\n')
    seen_during_write = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:  # the moment the data is flushed, before the rename
        seen_during_write.append(target.read_text())
        real_fsync(fd)

    monkeypatch.setattr(output.os, "fsync", fsync)
    output.write_text('{"new": true}\n', str(target))
    assert seen_during_write == ['{"old": true}\n']
    assert target.read_text() == '{"new": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failed_write_leaves_the_old_report_and_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "report.json"
    target.write_text("old\n")

    def broken_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(output.os, "replace", broken_replace)
    with pytest.raises(OSError):
        output.write_text("new\n", str(target))
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_missing_directory_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        output.write_text("x", str(tmp_path / "nope" / "r.json"))
