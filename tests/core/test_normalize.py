"""Cleaning PM export values: phones, names, dates, times, placeholders, codes."""

from __future__ import annotations

import datetime as dt
import random
import re

import pandas as pd
import pytest

from panelmanager.core.importers import normalize as nz


def col(*values) -> pd.Series:
    return nz.blank_to_na(pd.Series(list(values), dtype=object))


def as_list(series: pd.Series) -> list:
    return [None if pd.isna(v) else v for v in series.tolist()]


def test_blank_cells_and_spacing_become_missing_or_single_spaces():
    assert as_list(col("  Ann   Lee ", "", "   ", None, "\tx\t")) == ["Ann Lee", None, None, None, "x"]


def test_missing_values_survive_the_distinct_value_shortcut():
    # per_unique factorises; the missing value must map back as missing, in place.
    values = col("555-555-1234", None, "555-555-1234", "", "(555) 555-9999")
    assert as_list(nz.format_phone(values)) == ["(555) 555-1234", None, "(555) 555-1234", None, "(555) 555-9999"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("555-555-1234", "(555) 555-1234"),
        ("(555)555-1234", "(555) 555-1234"),
        ("555.555.1234", "(555) 555-1234"),
        ("5555551234", "(555) 555-1234"),
        ("1-555-555-1234", "(555) 555-1234"),
        ("+1 (555) 555 1234", "(555) 555-1234"),
        ("5555551234.0", "(555) 555-1234"),
        ("555-555-1234 x123", "(555) 555-1234 x123"),
        ("(555) 555-1234 ext. 45", "(555) 555-1234 x45"),
        ("555 1234", None),
        ("0000000000", None),
        ("555-555-12345", None),
        ("call mom", None),
    ],
)
def test_phones_in_any_layout_come_out_one_way_and_unusable_ones_are_dropped(raw, expected):
    assert as_list(nz.format_phone(col(raw))) == [expected]


def test_placeholders_are_dropped_ignoring_case_and_patterns_match_from_the_start():
    values = col("No Email", "N/A", "na", "UNKNOWN", "*SELF PAY*", "declined", "Refused", "-", "real value")
    cleaned = nz.drop_placeholders(
        values, ["no email", "n/a", "na", "unknown", "*self pay*", "declined", "refused", "-"]
    )
    assert as_list(cleaned) == [None] * 8 + ["real value"]
    emails = col("noemail@clinic.org", "NoEmail@x.com", "ann.noemail@mail.com")
    assert as_list(nz.drop_placeholders(emails, patterns=[r"^no[._-]?e?-?mail\b"])) == [None, None, "ann.noemail@mail.com"]


def test_emails_are_lowercased_and_non_addresses_dropped():
    assert as_list(nz.clean_email(col("Ann.Lee@Mail.COM", "mailto:bob@x.org", "not an email", "a@b"))) == [
        "ann.lee@mail.com",
        "bob@x.org",
        None,
        None,
    ]


@pytest.mark.parametrize(
    ("raw", "last", "first", "middle", "suffix"),
    [
        ("SMITH, JOHN A", "Smith", "John", "A", None),
        ("Smith, John Andrew", "Smith", "John", "Andrew", None),
        ("PEÑA, JOSÉ", "Peña", "José", None, None),
        ("O'NEIL JR, PATRICK", "O'Neil", "Patrick", None, "Jr"),
        ("SMITH, JOHN A SR", "Smith", "John", "A", "Sr"),
        ("SMITH, JOHN, III", "Smith", "John", None, "III"),
        ("MCDONALD, RONALD J.", "McDonald", "Ronald", "J", None),
        ("van der Berg, Anna", "van der Berg", "Anna", None, None),
        ("JOHN Q PUBLIC", "Public", "John", "Q", None),
        ("Madonna", "Madonna", None, None, None),
    ],
)
def test_one_column_names_split_into_parts(raw, last, first, middle, suffix):
    parts = nz.split_full_name(col(raw))
    parts["last_name"] = nz.proper_case(parts["last_name"])
    parts["first_name"] = nz.proper_case(parts["first_name"])
    row = parts.iloc[0]
    assert [None if pd.isna(v) else v for v in (row.last_name, row.first_name, row.middle_name, row.suffix)] == [
        last,
        first,
        middle,
        suffix,
    ]


def test_proper_case_only_touches_all_caps_values():
    assert as_list(nz.proper_case(col("GARCIA", "McDonald", "de la Cruz", "ZOË", "O'BRIEN-SMITH"))) == [
        "Garcia",
        "McDonald",
        "de la Cruz",
        "Zoë",
        "O'Brien-Smith",
    ]


def test_dates_in_each_layout_parse_and_bad_ones_are_flagged():
    values = col("03/05/1980", "3/5/1980", "1980-03-05", "19800305", "Mar 5, 1980", "05-Mar-1980", "13/45/1980", "unknown", None)
    parsed, bad = nz.parse_dates(values)
    stamp = pd.Timestamp("1980-03-05")
    assert parsed.tolist()[:6] == [stamp] * 6
    assert bad.tolist() == [False] * 6 + [True, True, False]


def test_two_digit_years_of_birth_are_never_in_the_future():
    parsed, bad = nz.parse_dates(col("1/2/50", "3/5/80", "6/1/23", "12/31/24"), past_only=True, as_of=dt.date(2024, 6, 1))
    assert [d.date() for d in parsed] == [
        dt.date(1950, 1, 2),
        dt.date(1980, 3, 5),
        dt.date(2023, 6, 1),
        dt.date(1924, 12, 31),
    ]
    assert not bad.any()


def test_excel_serial_days_read_as_dates_only_when_asked():
    parsed, bad = nz.parse_dates(col("29285"), excel_serials=True)
    assert parsed.iloc[0] == pd.Timestamp("1980-03-05")
    _, bad_plain = nz.parse_dates(col("29285"))
    assert bad_plain.iloc[0] and not bad.iloc[0]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("9:30 AM", "09:30"),
        ("09:30am", "09:30"),
        ("9:30 p.m.", "21:30"),
        ("12:15 PM", "12:15"),
        ("12:15 AM", "00:15"),
        ("14:30", "14:30"),
        ("14:30:00", "14:30"),
        ("0930", "09:30"),
        ("930", "09:30"),
    ],
)
def test_times_in_each_layout(raw, expected):
    delta, bad = nz.parse_times(col(raw))
    assert not bad.iloc[0]
    assert (pd.Timestamp("2024-01-01") + delta.iloc[0]).strftime("%H:%M") == expected


@pytest.mark.parametrize("raw", ["25:00", "13:00 PM", "9:75", "noon"])
def test_impossible_times_are_flagged(raw):
    _, bad = nz.parse_times(col(raw))
    assert bad.iloc[0]


def test_date_and_time_columns_combine_and_a_time_inside_the_date_is_kept():
    start, bad_date, bad_time = nz.parse_datetimes(
        col("03/05/2024", "2024-03-05 14:00:00", "03/05/2024 9:30 AM", "03/05/2024"),
        col("0815", None, None, "1899-12-30 16:45:00"),
    )
    assert [s.strftime("%Y-%m-%d %H:%M") for s in start] == [
        "2024-03-05 08:15",
        "2024-03-05 14:00",
        "2024-03-05 09:30",
        "2024-03-05 16:45",
    ]
    assert not bad_date.any() and not bad_time.any()


def test_zip_codes_keep_leading_zeros_and_get_them_back_from_excel():
    assert as_list(nz.clean_postal_code(col("02134", "2134", "021341234", "02134-1234", "2134.0", "K1A 0B1"))) == [
        "02134",
        "02134",
        "02134-1234",
        "02134-1234",
        "02134",
        "K1A 0B1",
    ]


def test_languages_become_iso_codes_when_recognisable():
    table = {"english": "en", "spanish": "es", "español": "es", "spa": "es", "mandarin": "zh"}
    result = nz.normalize_language(col("Spanish", "ENGLISH", "en", "Español", "SPA", "Mandarin Chinese", "Hmong"), table)
    assert as_list(result) == ["es", "en", "en", "es", "es", "zh", "Hmong"]


def test_value_maps_and_word_rules():
    mapped, unmatched = nz.map_values(col("F", "x", "O", "zz", None), {"f": "scheduled", "x": "cancelled", "o": ""})
    assert as_list(mapped) == ["scheduled", "cancelled", None, None, None]
    assert unmatched.tolist() == [False, False, False, True, False]
    words = nz.map_words(col("Checked In - Room 4", "cancelled by pt", "nothing"), {"checked in": "arrived", "cancel": "cancelled", "cancelled": "cancelled"})
    assert as_list(words) == ["arrived", "cancelled", None]


def test_provider_text_splits_into_names_and_credentials():
    names = nz.split_provider_names(col("SMITH, JOHN A MD", "Jane Doe, NP", "Dr. Ravi Patel", "Lee, Ann M.D.", "jsmith", "17"), id_label="User {id}")
    assert names["display_name"].tolist() == ["John Smith, MD", "Jane Doe, NP", "Ravi Patel", "Ann Lee, MD", "jsmith", "User 17"]
    assert as_list(names["last_name"]) == ["Smith", "Doe", "Patel", "Lee", None, None]
    assert as_list(names["credentials"]) == ["MD", "NP", None, "MD", None, None]


# --------------------------------------------------------------------------- whole-column shortcuts


def test_the_whitespace_the_shortcuts_look_for_is_all_the_whitespace_python_knows():
    every = {chr(code) for code in range(0x110000) if chr(code).isspace()}
    assert set(nz._ASCII_SPACES + nz._OTHER_SPACES + " ") == every


def _messy_column(rows: int, seed: int = 3) -> pd.Series:
    """Mostly distinct values (so the column is cleaned whole, not per distinct value)."""
    rng = random.Random(seed)
    layouts = ["{a}-{b}-{c}", "({a}) {b}{c}", "{a}.{b}.{c}", "1-{a}-{b}-{c}", "+1 ({a}) {b} {c}", "{a}{b}{c}.0",
               "{a}-{b}-{c} x{e}", "({a}) {b}-{c} ext. {e}", "{a}\u00a0{b}\t{c}", "  {a} {b}  {c} "]
    values = []
    for i in range(rows):
        pick = rng.random()
        if pick < 0.05:
            values.append(None)
        elif pick < 0.1:
            values.append(rng.choice(["", "  ", "No Phone", "n/a", "N/A", "0000000000", "call mom", "x", "MAILTO:Ann@X.org"]))
        elif pick < 0.2:
            values.append(f"Person{i}@Mail.COM" if rng.random() < 0.5 else f"noemail{i}@none.com")
        else:
            a, b, c = rng.randint(100, 999), rng.randint(100, 999), rng.randint(1000, 9999)
            values.append(rng.choice(layouts).format(a=a, b=b, c=c, e=rng.randint(1, 999)))
    return pd.Series(values, dtype=object)


def test_whole_column_shortcuts_give_what_cell_by_cell_cleaning_gives():
    raw = _messy_column(20_000)
    assert nz._mostly_distinct(raw, 0.5)
    expected_blank = [None if v is None else (re.sub(r"\s+", " ", v).strip() or None) for v in raw.tolist()]
    blank = nz.blank_to_na(raw)
    assert as_list(blank) == expected_blank

    keys = {"no phone", "n/a", "0000000000", "x"}
    pattern = re.compile(r"^no[._-]?e?-?mail\b", re.IGNORECASE)
    dropped = nz.drop_placeholders(blank, sorted(keys), [r"^no[._-]?e?-?mail\b"])
    assert as_list(dropped) == [None if v is None or v.lower() in keys or pattern.match(v.lower()) else v for v in expected_blank]

    assert as_list(nz.format_phone(dropped)) == as_list(nz._format_phone_cells(dropped))
    emails = [None if v is None else v.lower().removeprefix("mailto:").strip() for v in as_list(dropped)]
    assert as_list(nz.clean_email(dropped)) == [v if v and re.match(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$", v) else None for v in emails]
