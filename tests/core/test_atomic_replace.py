"""core.safe_export.atomic_replace: the one all-or-nothing file write used by backups and encrypt/decrypt."""

from __future__ import annotations

import os
import stat

import pytest

from panelmanager.core.safe_export import atomic_replace


def test_a_completed_block_replaces_the_target_owner_only(tmp_path):
    target = tmp_path / "registry.sqlite3"
    target.write_text("old")
    with atomic_replace(target) as part:
        assert part.name == "registry.sqlite3.part" and part.exists()
        part.write_text("new")
        assert target.read_text() == "old"  # nothing visible until the block ends
    assert target.read_text() == "new"
    assert not part.exists()
    if os.name == "posix":
        assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_an_error_leaves_the_target_as_it_was_and_no_part_file(tmp_path):
    target = tmp_path / "backup.sqlite3"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_replace(target, suffix=".converting") as part:
        part.write_text("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]
