"""An import tells other workstations that the registry changed (issue 13): it bumps the
change counter when it commits, and a dry run or a failed file does not."""

from __future__ import annotations

import datetime as dt

from panelmanager.core.concurrency import ChangeWatcher, change_counter
from panelmanager.core.demo import generate_practice, write_pm_csvs
from panelmanager.core.importers import run_import


def _counter(registry) -> int:
    with registry.session() as session:
        return change_counter(session)


def test_a_committed_import_bumps_the_change_counter_and_a_dry_run_does_not(fresh_registry, tmp_path):
    paths = [str(p) for p in write_pm_csvs(generate_practice(30, seed=3, as_of=dt.date(2025, 3, 12)), tmp_path / "pm")]
    watcher = ChangeWatcher(fresh_registry)
    before = _counter(fresh_registry)

    outcomes = run_import(fresh_registry, paths, dry_run=True, write_rejects=False, user="test")
    assert all(o.ok for o in outcomes) and _counter(fresh_registry) == before
    assert watcher.poll() is False

    outcomes = run_import(fresh_registry, paths, write_rejects=False, user="test")
    assert all(o.ok for o in outcomes)
    assert _counter(fresh_registry) == before + len(paths)  # one bump per committed file
    assert watcher.poll() is True and watcher.poll() is False
