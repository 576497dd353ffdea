"""Small JSON state files: whole reads, atomic replacement, torn lines skipped."""

from __future__ import annotations

import pytest

from erroracle.errors import StorageError
from erroracle.platform.state_files import StateFiles


def test_a_file_round_trips_and_an_absent_one_reads_none(tmp_path):
    state = StateFiles(str(tmp_path), "state")
    assert state.read("tuned.json") is None and state.read_lines("rounds.jsonl") == []
    state.write("tuned.json", {"lr": 1e-4})
    assert state.read("tuned.json") == {"lr": 1e-4}
    assert not [p for p in (tmp_path / "state").iterdir() if p.name.startswith(".")]


def test_a_torn_line_is_skipped_and_a_damaged_file_is_named(tmp_path):
    state = StateFiles(str(tmp_path), "state")
    state.write_lines("rounds.jsonl", [{"round": 1}, {"round": 2}])
    path = tmp_path / "state" / "rounds.jsonl"
    path.write_text(path.read_text() + '{"round": 3, "sta')
    assert state.read_lines("rounds.jsonl") == [{"round": 1}, {"round": 2}]
    (tmp_path / "state" / "bad.json").write_text("{not json")
    with pytest.raises(StorageError, match="bad.json"):
        state.read("bad.json")
