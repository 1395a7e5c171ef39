"""``panelmanager letters`` parses its options and displays what ``outreach_run.run_outreach`` made: it
builds no list, writes no document and logs nothing itself (issue 11)."""

from __future__ import annotations

import json

import pytest
from outreach_practice import COLON, build_outreach_practice
from sqlalchemy import select

from panelmanager.cli import main
from panelmanager.core import models as m
from panelmanager.core import outreach_run
from panelmanager.core.db import open_registry


@pytest.fixture
def practice_db(tmp_path) -> str:
    path = str(tmp_path / "registry.sqlite3")
    registry = open_registry(path, create=True)
    with registry.session() as session:
        build_outreach_practice(session)
    registry.close()
    return path


@pytest.fixture
def calls(monkeypatch) -> list[dict]:
    """Every run_outreach call, passed on to the real service."""
    seen: list[dict] = []
    real = outreach_run.run_outreach

    def spy(session, *args, **kwargs):
        seen.append({"args": args, **kwargs})
        return real(session, *args, **kwargs)

    monkeypatch.setattr(outreach_run, "run_outreach", spy)
    return seen


def test_letters_is_one_run_outreach_call(practice_db, tmp_path, capsys, calls):
    letters, portal = tmp_path / "letters.pdf", tmp_path / "portal.csv"
    code = main(["--db", practice_db, "letters", "--measure", COLON, "--provider", "Alvarez", "--out", str(letters),
                 "--portal", str(portal), "--json"])
    assert code == 0
    [call] = calls
    as_of, filters = call["args"]
    assert filters.measure_ids == (COLON,) and filters.provider_id == 1
    assert (call["letters"], call["portal"], call["labels"], call["log"], call["user"]) == (
        str(letters), str(portal), None, True, "Front Desk")  # no accounts here: the settings' user name
    summary = json.loads(capsys.readouterr().out)
    assert summary["patients"] == 2 and summary["letters"]["letters"] == 2 and summary["logged"] == 4
    registry = open_registry(practice_db)
    with registry.session() as session:
        batches = set(session.scalars(select(m.OutreachLog.batch)))
    registry.close()
    assert batches == {summary["batch"]}


def test_no_log_still_goes_through_the_service(practice_db, tmp_path, capsys, calls):
    assert main(["--db", practice_db, "letters", "--measure", COLON, "--calls", str(tmp_path / "c.csv"),
                 "--no-log"]) == 0
    assert [c["log"] for c in calls] == [False]
    assert "Call list: 4 patients" in capsys.readouterr().out
