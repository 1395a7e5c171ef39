"""The CLI's one way to open the registry (``cli._common.registry_work``): the registry is closed whatever
happens, a cancelled job is exit status 130 with a message, and a core error is a message, not a traceback."""

from __future__ import annotations

import argparse

import pytest

from panelmanager.cli import _common, main
from panelmanager.core.jobs import Cancelled


@pytest.fixture
def db(tmp_path) -> str:
    path = str(tmp_path / "registry.sqlite3")
    assert main(["--db", path, "--create", "stats"]) == 0
    return path


def test_a_cancelled_job_exits_130_with_a_message(db, monkeypatch, capsys):
    from panelmanager.core import stats

    def cancelled(session):
        raise Cancelled()

    monkeypatch.setattr(stats, "registry_stats", cancelled)
    capsys.readouterr()
    assert main(["--db", db, "stats"]) == 130
    err = capsys.readouterr().err
    assert "panelmanager stats: Cancelled by the user; nothing was changed." in err and "Traceback" not in err


def test_registry_work_closes_the_registry_and_the_bar_on_an_error(db, monkeypatch):
    closed = []
    real_open = _common.open_registry_for

    def opening(args):
        registry = real_open(args)
        real_close = registry.close
        registry.close = lambda: (closed.append("registry"), real_close())
        return registry

    monkeypatch.setattr(_common, "open_registry_for", opening)
    args = argparse.Namespace(db=db, create=False)
    with pytest.raises(RuntimeError), _common.registry_work(args, write=True, cancel=True) as work:
        assert work.session is not None and work.cancel is not None and not work.cancel.cancelled
        raise RuntimeError("boom")
    with _common.registry_work(args, session=False) as work:
        assert work.session is None and work.cancel is None and work.registry is not None
    assert closed == ["registry", "registry"]


def test_a_core_lookup_error_is_the_commands_message(db, capsys):
    assert main(["--db", db, "history", "NOBODY"]) == 1
    err = capsys.readouterr().err
    assert "panelmanager history: There is no patient with MRN 'NOBODY'." in err and "Traceback" not in err
