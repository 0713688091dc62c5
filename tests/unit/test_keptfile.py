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


def test_two_writers_at_once_use_scratch_files_of_their_own(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    """Two runs writing the same state file at once: each writes its own uniquely named
    scratch file (a fixed ``.tmp`` name let one rename the other's half-written file), and
    the file ends as one writer's whole text, never a mix."""
    import os

    path = tmp_path / "kept.json"
    scratches: list[str] = []
    real_replace = os.replace

    def interleaved(src: str, dst: str) -> None:
        scratches.append(src)
        if len(scratches) == 1:  # the second writer runs while the first is between write
            assert keptfile.save(path, {"writer": "second"})  # and rename
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interleaved)
    assert keptfile.save(path, {"writer": "first"})
    assert len(set(scratches)) == 2
    assert all(Path(s).parent == tmp_path and Path(s).name.startswith(".kept.json.")
               for s in scratches)
    assert keptfile.load(path) in ({"writer": "first"}, {"writer": "second"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]


def test_a_failed_rename_leaves_the_old_file_and_no_scratch(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    import os

    path = tmp_path / "kept.json"
    assert keptfile.save(path, {"old": 1})

    def refuse(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", refuse)
    assert keptfile.save(path, {"new": 2}) is False
    assert keptfile.load(path) == {"old": 1}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["kept.json"]
