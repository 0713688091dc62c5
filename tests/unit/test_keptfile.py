"""The one reader and writer of the JSON maps kept between runs (todo_deploy/keptfile.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from todo_deploy import keptfile


def test_what_is_saved_is_loaded_and_no_scratch_file_stays(tmp_path: Path) -> None:
    path = tmp_path / "deeper" / "kept.json"
    assert keptfile.save(path, {"a": [1, 2], "b": {"c": "d"}})
    assert keptfile.load(path) == {"a": [1, 2], "b": {"c": "d"}}
    assert sorted(p.name for p in path.parent.iterdir()) == ["kept.json"]


@pytest.mark.parametrize("text", ["", "{not json", "[1, 2]", '"a string"', "\udcff"])
def test_a_missing_damaged_or_non_object_file_reads_as_empty(tmp_path: Path, text: str) -> None:
    path = tmp_path / "kept.json"
    assert keptfile.load(path) == {}  # missing
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    assert keptfile.load(path) == {}


def test_an_unwritable_place_is_reported_not_raised(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")  # a file where a directory should be: no root can write under it
    assert keptfile.save(blocker / "kept.json", {"a": 1}) is False
    assert keptfile.load(blocker / "kept.json") == {}
