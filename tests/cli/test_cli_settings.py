"""Issue 9 item 16: ``panelmanager settings show|set`` lets a practice set its letterhead without the GUI."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest

from panelmanager.cli import main
from panelmanager.core.reports.common import Letterhead
from panelmanager.core.reports.letters import LetterError, build_letters


def _db(tmp_path) -> str:
    from panelmanager.core.db import open_registry

    path = tmp_path / "r.sqlite3"
    open_registry(path, create=True).close()
    return str(path)


def test_set_then_show_the_practice_phone(tmp_path, capsys):
    db = _db(tmp_path)
    assert main(["--db", db, "settings", "set", "practice_phone", "(413) 555-0100"]) == 0
    assert capsys.readouterr().out.strip() == "practice_phone: (not set) -> (413) 555-0100"
    assert main(["--db", db, "settings", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["practice_phone"] == "(413) 555-0100"
    assert main(["--db", db, "settings", "show"]) == 0
    text = capsys.readouterr().out
    assert "practice_phone" in text and "(413) 555-0100" in text and "lookback_months" in text


def test_a_bad_value_is_a_message_naming_the_key(tmp_path, capsys):
    db = _db(tmp_path)
    assert main(["--db", db, "settings", "set", "lookback_months", "200"]) == 1
    err = capsys.readouterr().err
    assert "lookback_months: 200 is outside 6-60" in err and "Traceback" not in err


def test_an_unknown_key_lists_the_keys(tmp_path, capsys):
    db = _db(tmp_path)
    assert main(["--db", db, "settings", "set", "phone", "555"]) == 1
    err = capsys.readouterr().err
    assert "'phone' is not a setting" in err and "practice_phone" in err


def test_letters_without_a_phone_say_how_to_set_it_from_the_command_line():
    with pytest.raises(LetterError, match="panelmanager settings set practice_phone"):
        build_letters([], io.BytesIO(), letterhead=Letterhead(practice_name="X", phone=""), date=dt.date(2024, 1, 1))
