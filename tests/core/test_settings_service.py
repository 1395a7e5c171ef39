"""Issue 9 item 16: one practice setting changed by name, typed and checked (core service)."""

from __future__ import annotations

import datetime as dt

import pytest

from panelmanager.core.settings import load_settings
from panelmanager.core.settings_service import (
    KEYS,
    SettingError,
    set_setting,
    settings_dataclass_keys,
    show_settings,
)


def test_every_practice_setting_has_a_key():
    assert {k.name for k in KEYS} == settings_dataclass_keys()


def test_the_phone_number_is_saved_and_read_back(fresh_registry):
    with fresh_registry.session() as session:
        change = set_setting(session, "practice_phone", "(413) 555-0100")
    assert (change.old, change.new, change.changed) == ("", "(413) 555-0100", True)
    with fresh_registry.session() as session:
        assert load_settings(session).practice_phone == "(413) 555-0100"
        shown = {row.key: row.text for row in show_settings(session)}
    assert shown["practice_phone"] == "(413) 555-0100"


def test_values_are_typed(fresh_registry):
    with fresh_registry.session() as session:
        set_setting(session, "lookback_months", "24")
        set_setting(session, "letters_one_per_gap", "yes")
        set_setting(session, "as_of_override", "2024-03-15")
        set_setting(session, "practice_address", "1 Main St; Springfield, MA 01103")
        set_setting(session, "measure_goals", '{"breast-cancer-screening": 75}')
    with fresh_registry.session() as session:
        s = load_settings(session)
    assert s.lookback_months == 24 and s.letters_one_per_gap is True
    assert s.as_of_override == dt.date(2024, 3, 15)
    assert s.practice_address == "1 Main St\nSpringfield, MA 01103"
    assert s.measure_goals == {"breast-cancer-screening": 75.0}


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("practice_fone", "1", "'practice_fone' is not a setting. The settings are: practice_name"),
        ("phone", "1", "Did you mean practice_phone"),
        ("practice_phone", "call us", "is not a phone number"),
        ("lookback_months", "2", "lookback_months: 2 is outside 6-60"),
        ("lookback_months", "a year", "is not a whole number"),
        ("letters_one_per_gap", "maybe", "write yes or no"),
        ("as_of_override", "15/03/2024", "write YYYY-MM-DD"),
        ("measure_goals", '{"no-such": 5}', "no-such is not a measure"),
        ("letter_offsets_in", '{"window_left": 9}', "the envelope window must lie on the page"),
        ("letter_logo_path", "/nowhere/logo.png", "there is no PNG or JPG image file"),
    ],
)
def test_bad_values_are_refused_and_nothing_is_saved(fresh_registry, key, value, message):
    with fresh_registry.session() as session:
        with pytest.raises(SettingError, match=message.replace("(", r"\(").replace(")", r"\)")):
            set_setting(session, key, value)
        assert load_settings(session) == type(load_settings(session))()
