"""`replace_atomically`: the old text or the new, never half, and no partial file left behind."""

from __future__ import annotations

import pytest

from hermes_ops.local_files import replace_atomically


def test_the_new_text_replaces_the_old_and_no_partial_file_stays(tmp_path):
    path = tmp_path / "run.json"
    path.write_text("old\n")
    replace_atomically(path, "new\n")
    assert path.read_text() == "new\n"
    assert [entry.name for entry in tmp_path.iterdir()] == ["run.json"]


def test_a_refused_rename_leaves_the_target_as_it_was_and_removes_the_partial(tmp_path):
    target = tmp_path / "run.json"
    target.mkdir()  # a file cannot be renamed over a directory
    (target / "kept").write_text("untouched")
    with pytest.raises(OSError):
        replace_atomically(target, "new\n")
    assert (target / "kept").read_text() == "untouched"
    assert [entry.name for entry in tmp_path.iterdir()] == ["run.json"]
