"""Jobs and the garbage collector (issue 10, no freezes at 100,000 patients): a full collection on a
worker holds the interpreter lock and so the window; while a job runs, full collections wait until no
job runs, and the collector's thresholds are restored after (also when a job fails or overlaps another)."""

from __future__ import annotations

import gc

from panelmanager.ui.jobs import JobRunner, run_job


def test_full_collections_wait_while_a_job_runs(qtbot):
    before = gc.get_threshold()
    seen = []

    def job(progress, cancel):
        seen.append(gc.get_threshold())
        return 1

    run_job(None, "Working", job)
    assert seen == [(before[0], before[1], 1_000_000)]  # young objects still collected, full ones deferred
    assert gc.get_threshold() == before


def test_thresholds_come_back_after_a_failed_job_and_after_overlapping_jobs(qtbot):
    from panelmanager.ui.jobs import _FullCollections

    before = gc.get_threshold()
    run_job(None, "Failing", lambda progress, cancel: 1 / 0, show_errors=False)
    assert gc.get_threshold() == before
    outer, inner = _FullCollections(), _FullCollections()
    with outer:
        with inner:
            assert gc.get_threshold()[2] == 1_000_000
        assert gc.get_threshold()[2] == 1_000_000  # the other job still runs
    assert gc.get_threshold() == before


def test_synchronous_test_jobs_freeze_nothing(qtbot, monkeypatch):
    monkeypatch.setattr(JobRunner, "_frozen", False)
    run_job(None, "Working", lambda progress, cancel: None)
    assert JobRunner._frozen is False  # only the app's first threaded job freezes its start-up objects
