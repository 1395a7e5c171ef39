"""Cleaning PM export values, a whole column at a time.

Practice-management exports are typed by hand at a front desk and reshaped by report
writers: dates in four layouts, phone numbers in ten, "LAST, FIRST M" names in one
column, ALL CAPS, and placeholders such as "No Email" or "*SELF PAY*" where a value
should be missing. Every function here takes a pandas Series of text (one column of
the file) and returns a cleaned Series of the same index, vectorised so a 100,000-row
export cleans in a fraction of a second. Values that cannot be understood become
missing (phones, e-mails) or are flagged in a boolean "bad" Series the caller turns
into a rejected row with a reason (dates, times).

Works with pandas 2 (object dtype, None) and pandas 3 (str dtype, NaN) alike: only
``isna``/``notna``/``where``/``mask`` and the ``.str`` accessor are used on values.

Without pyarrow every ``.str`` method is a Python call per cell, and a regular
expression per cell is the slowest of them. The busiest cleaners (spacing,
placeholders, phones, lengths) therefore first look at the whole column joined into
one string (``_Cells``): a substring search or ``str.translate`` over a million
characters runs in C in about a millisecond and tells whether any cell needs the
per-cell work at all; most columns of a real export do not.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

# --------------------------------------------------------------------------- each distinct value once


def per_unique(func: Callable[..., Any] | None = None, *, distinct_share: float = 0.9) -> Any:
    """Run an element-wise column function on the column's distinct values only.

    Exports repeat themselves (cities, dates of birth, visit types, statuses), and
    pandas string methods cost a Python call per value without pyarrow; factorising
    first (in C) and mapping the results back keeps a 100,000-row file fast. The
    function sees one extra missing value at the end, so missing input gets whatever
    it gives for a missing value. A long column whose values hardly repeat (more than
    ``distinct_share`` of a sample distinct: phones, addresses) is passed whole, as
    factorising it would cost more than it saves; cheap functions use a lower share.
    """
    if func is None:
        return functools.partial(per_unique, distinct_share=distinct_share)

    @functools.wraps(func)
    def wrapper(series: pd.Series, *args: Any, **kwargs: Any) -> Any:
        if _mostly_distinct(series, distinct_share):
            # Phones, addresses, e-mails: factorising would cost more than it saves.
            return func(series, *args, **kwargs)
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
        if len(uniques) == len(series) and not (codes < 0).any():
            return func(series, *args, **kwargs)
        values = np.empty(len(uniques) + 1, dtype=object)
        values[:-1] = np.asarray(uniques, dtype=object)
        values[-1] = np.nan
        codes = np.where(codes < 0, len(uniques), codes)
        result = func(pd.Series(values, dtype=object), *args, **kwargs)

        def spread(part: Any) -> Any:
            taken = part.iloc[codes]
            taken.index = series.index
            return taken

        if isinstance(result, tuple):
            done: dict[int, Any] = {}  # a part returned twice is spread once
            for part in result:
                if id(part) not in done:
                    done[id(part)] = spread(part)
            return tuple(done[id(part)] for part in result)
        return spread(result)

    return wrapper


def _mostly_distinct(series: pd.Series, share: float, sample: int = 4096) -> bool:
    """Whether more than ``share`` of a long column's present values are distinct.

    Estimated from an evenly spread sample: with D distinct values, equally common, a
    sample of m values repeats itself about m*m/(2D) times.
    """
    rows = len(series)
    if rows < 4 * sample:
        return False
    picked = series.iloc[:: rows // sample]
    present = picked.dropna().tolist()
    if len(present) < sample // 4:  # mostly empty: few distinct values
        return False
    try:
        repeats = len(present) - len(set(present))
    except TypeError:  # unhashable cells: no shortcut
        return True
    if repeats == 0:
        return True
    distinct = len(present) ** 2 / (2 * repeats)
    return distinct > share * rows * len(present) / len(picked)


# --------------------------------------------------------------------------- whole-column text

_SEP = "\x00"  # not in text exports; a cell holding it sends its column down the per-cell path
# Every character str.isspace() (and so str.strip() and the regex \s) treats as white space.
_ASCII_SPACES = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f"
_OTHER_SPACES = (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_WHITESPACE = re.compile(r"\s+")


class _Cells:
    """The present cells of a text column as a list, and joined into one string.

    ``joined`` is None when a cell is not text or holds the separator; callers then
    take the per-cell path for every cell.
    """

    __slots__ = ("series", "present", "complete", "values", "joined")

    def __init__(self, series: pd.Series) -> None:
        cells = series.to_numpy(dtype=object)
        self.series = series
        self.present = pd.notna(cells)
        self.complete = bool(self.present.all())
        self.values: list = cells.tolist() if self.complete else cells[self.present].tolist()
        try:
            joined = _SEP.join(self.values)
        except TypeError:  # a number or date among the text
            joined = None
        if joined is not None and joined.count(_SEP) != max(len(self.values) - 1, 0):
            joined = None
        self.joined = joined

    def has(self, *needles: str) -> bool:
        """Whether any cell holds any of ``needles`` (True when that cannot be checked)."""
        return self.joined is None or any(needle in self.joined for needle in needles)

    def odd_spacing(self) -> bool:
        """Whether any cell holds white space other than single spaces (leading and
        trailing spaces aside: ``str.strip`` per cell is cheaper than looking for them)."""
        if self.joined is None:
            return True
        joined = self.joined
        if any(c in joined for c in _ASCII_SPACES) or "  " in joined:
            return True
        return not joined.isascii() and any(c in joined for c in _OTHER_SPACES)

    def rebuild(self, values: list, *, missing: np.ndarray | None = None) -> pd.Series:
        """A column like the input: ``values`` in the present cells, NaN elsewhere and where
        ``missing`` (one flag per present cell) is set."""
        if self.complete and missing is None:
            return pd.Series(values, index=self.series.index, dtype=object)
        out = np.full(len(self.present), np.nan, dtype=object)
        out[self.present] = values
        if missing is not None and missing.any():
            gone = np.zeros(len(out), dtype=bool)
            gone[self.present] = missing
            out[gone] = np.nan
        return pd.Series(out, index=self.series.index, dtype=object)


# --------------------------------------------------------------------------- text


@per_unique(distinct_share=0.5)
def blank_to_na(series: pd.Series) -> pd.Series:
    """Strip, collapse inner whitespace, and make empty cells missing."""
    cells = _Cells(series)
    if cells.joined is None:  # a cell that is not text is no value here
        values = [_WHITESPACE.sub(" ", v).strip() if isinstance(v, str) else "" for v in cells.values]
    elif cells.odd_spacing():
        values = [_WHITESPACE.sub(" ", v).strip() for v in cells.values]
    else:
        values = [v.strip() for v in cells.values]
    missing = np.array([v == "" for v in values], dtype=bool) if "" in values else None
    return cells.rebuild(values, missing=missing)


@functools.lru_cache(maxsize=64)
def _compiled_patterns(patterns: tuple[str, ...]) -> tuple[re.Pattern, ...]:
    """The patterns as one alternation (one regex pass per cell), or one by one when they
    cannot be joined (back-references, inline flags)."""
    if len(patterns) > 1 and not any(re.search(r"\\\d|\(\?P=|\(\?[aiLmsux]", p) for p in patterns):
        try:
            return (re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE),)
        except re.error:
            pass
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _one_pattern(patterns: list[str]) -> tuple[re.Pattern, ...]:
    return _compiled_patterns(tuple(patterns)) if patterns else ()


@per_unique(distinct_share=0.5)
def drop_placeholders(
    series: pd.Series,
    placeholders: Iterable[str] = (),
    patterns: Iterable[str] = (),
) -> pd.Series:
    """Values that mean "nothing here" ("N/A", "No Email", "*SELF PAY*", "0000000000") -> missing.

    ``placeholders`` are compared ignoring case and surrounding spaces; ``patterns`` are
    regular expressions matched (ignoring case) from the start of the value.
    """
    keys = {p.strip().lower() for p in placeholders}
    patterns = list(patterns)
    if not len(series) or (not keys and not patterns):
        return series.copy()
    cells = _Cells(series)
    if cells.joined is None:  # a cell that is not text is never a placeholder
        lowered = [v.lower() if isinstance(v, str) else _SEP for v in cells.values]
    else:
        joined = cells.joined.lower()
        # Digits, phones, lower-case text: nothing to lower, so nothing to split either.
        lowered = cells.values if joined == cells.joined else joined.split(_SEP)
    if not patterns and keys.isdisjoint(lowered):
        return series.copy()
    bad = np.array([v in keys for v in lowered], dtype=bool)
    for pattern in _one_pattern(patterns):
        bad |= np.array([pattern.match(v) is not None for v in lowered], dtype=bool)
    if not bad.any():
        return series.copy()
    gone = np.zeros(len(series), dtype=bool)
    gone[cells.present] = bad
    return series.mask(pd.Series(gone, index=series.index))


@per_unique
def map_values(series: pd.Series, mapping: Mapping[str, str]) -> tuple[pd.Series, pd.Series]:
    """Look each value up in ``mapping`` (keys compared case-insensitively, spaces trimmed).

    Returns (mapped, unmatched): ``mapped`` holds the mapping's value where a key
    matched (an empty mapping value means "missing"), ``unmatched`` flags present
    values no key matched.
    """
    lookup = {str(k).strip().lower(): v for k, v in mapping.items()}
    key = series.str.lower()
    mapped = key.map(lookup)
    matched = key.isin(set(lookup))
    mapped = mapped.mask(matched & (mapped == ""))
    return mapped.astype("object"), series.notna() & ~matched


@per_unique(distinct_share=0.5)
def clean_field(
    series: pd.Series,
    *,
    placeholders: Iterable[str] = (),
    patterns: Iterable[str] = (),
    values: Mapping[str, str] | None = None,
    then: Callable[[pd.Series], pd.Series] | None = None,
) -> tuple[pd.Series, pd.Series, pd.Series, pd.Series]:
    """One field's cells through the usual steps in one pass over its distinct values.

    Returns (raw, translated, text, cleaned): ``blank_to_na``; then ``values`` applied
    as in ``map_values`` (unmatched values kept); then ``drop_placeholders``; then the
    element-wise ``then`` (``format_phone``...; ``text`` again when None).
    """
    raw = blank_to_na(series)
    translated = raw
    if values:
        mapped, unmatched = map_values(raw, values)
        translated = mapped.where(~unmatched, raw)
    text = drop_placeholders(translated, placeholders, patterns)
    return raw, translated, text, (then(text) if then is not None else text)


def map_words(series: pd.Series, words: Mapping[str, str]) -> pd.Series:
    """First value of ``words`` whose key occurs in the text (as a whole word or phrase)."""
    result = pd.Series(np.nan, index=series.index, dtype="object")
    if not words:
        return result
    uniques = series.dropna().unique()
    if len(uniques) == 0:
        return result
    keyed = pd.Series(uniques, dtype="object")
    plain = keyed.str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
    found = pd.Series(np.nan, index=keyed.index, dtype="object")
    for word, value in words.items():
        token = re.sub(r"[^a-z0-9]+", " ", word.lower()).strip()
        if not token:
            continue
        hit = found.isna() & plain.str.contains(rf"(?:^| ){re.escape(token)}(?:$| )", regex=True)
        found = found.mask(hit, value)
    table = pd.Series(found.to_numpy(), index=keyed.to_numpy())
    return series.map(table).astype("object")


_SMALL_WORDS = re.compile(r"\b(Mc)([a-z])")


@per_unique
def proper_case(series: pd.Series) -> pd.Series:
    """Title-case the values typed in ALL CAPS ("PEÑA" -> "Peña", "MCDONALD" -> "McDonald").

    Values with any lower-case letter are left exactly as typed: the source knew better.
    """
    has_letters = series.str.contains(r"[^\W\d_]", regex=True, na=False)
    all_caps = has_letters & (series == series.str.upper())
    titled = series.str.title().str.replace(_SMALL_WORDS, lambda m: m.group(1) + m.group(2).upper(), regex=True)
    # str.title() capitalises after apostrophes ("O'Neil") but also turns "'S" into "'S"; fine for names.
    return series.where(~all_caps, titled)


# --------------------------------------------------------------------------- names

_SUFFIXES = {
    "JR": "Jr", "SR": "Sr", "II": "II", "III": "III", "IV": "IV", "2ND": "II", "3RD": "III",
}
_SUFFIX_RE = r"(?:JR|SR|II|III|IV|2ND|3RD)\.?"


@per_unique
def normalize_suffix(series: pd.Series) -> pd.Series:
    key = series.str.upper().str.replace(".", "", regex=False).str.strip()
    return key.map(_SUFFIXES).where(key.isin(set(_SUFFIXES)), series)


@per_unique
def split_full_name(series: pd.Series) -> pd.DataFrame:
    """Split "LAST, FIRST M", "LAST, FIRST MIDDLE", "LAST JR, FIRST" or "FIRST M LAST" names.

    Returns columns last_name, first_name, middle_name, suffix (missing where absent).
    """
    text = series.str.replace(r"\s*,\s*", ", ", regex=True).str.strip(" ,")
    suffix_pattern = rf"(?i)(?:^|(?<=[\s,]))({_SUFFIX_RE})(?=$|[\s,])"
    suffix = text.str.extract(suffix_pattern, expand=False)
    # Only a suffix that is not the whole surname or first name ("SMITH, JR" stays odd but kept).
    rest = text.str.replace(suffix_pattern, "", n=1, regex=True)
    rest = rest.str.replace(r"\s*,\s*(?=,|$)", "", regex=True).str.replace(r"\s+", " ", regex=True).str.strip(" ,")
    has_comma = rest.str.contains(",", regex=False, na=False)
    comma = rest.str.extract(r"^(?P<last>[^,]+),\s*(?P<first>[^\s,]+)(?:[\s,]+(?P<middle>.+))?$")
    spaced = rest.str.extract(r"^(?P<first>\S+)(?:\s+(?P<middle>.+?))?\s+(?P<last>\S+)$")
    single = rest.where(~has_comma & ~rest.str.contains(" ", regex=False, na=False))
    last = comma["last"].where(has_comma, spaced["last"].where(spaced["last"].notna(), single))
    first = comma["first"].where(has_comma, spaced["first"])
    middle = comma["middle"].where(has_comma, spaced["middle"])
    middle = middle.str.replace(r"^([^\W\d_])\.$", r"\1", regex=True).str.replace(",", "", regex=False)
    out = pd.DataFrame(
        {"last_name": last, "first_name": first, "middle_name": middle, "suffix": normalize_suffix(suffix)},
        index=series.index,
    )
    for column in out.columns:
        out[column] = blank_to_na(out[column])
    return out


CREDENTIALS = (
    "MD", "DO", "NP", "NP-C", "PA", "PA-C", "FNP", "FNP-C", "FNP-BC", "ANP", "ANP-BC", "AGNP", "AGNP-C", "APRN",
    "ARNP", "CRNP", "PMHNP", "DNP", "CNM", "CNS", "RN", "LPN", "MSN", "BSN", "MA", "CMA", "PHD", "PSYD", "LCSW",
    "LICSW", "LMFT", "LPC", "LMHC", "DDS", "DMD", "OD", "DPM", "PHARMD", "RPH", "RD", "MPH", "MBBS", "FAAFP",
    "FACP", "FAAP", "FACOG",
)
_CREDENTIAL_ALTS = "|".join(re.escape(c) for c in sorted(CREDENTIALS, key=len, reverse=True))


@per_unique
def split_provider_names(series: pd.Series, *, id_label: str = "Provider {id}") -> pd.DataFrame:
    """Provider text as PM reports show it -> first_name, last_name, credentials, display_name.

    Understands "SMITH, JOHN A MD", "Jane Doe, NP", "Dr. John Smith" and "M.D."; a
    bare number (a user id) is shown through ``id_label`` and a login name
    ("jsmith") is shown as written, with no first or last name.
    """
    text = series.str.replace(r"(?i)^dr\.?\s+", "", regex=True)
    text = text.str.replace(r"(?i)\b([a-z])\.\s?([a-z])\.?(?=[\s,]|$)", r"\1\2", regex=True)
    parts = text.str.extract(rf"(?i)^(?P<name>.*?)(?P<creds>(?:[\s,]+(?:{_CREDENTIAL_ALTS})(?![\w-]))*)\s*$")
    creds = parts["creds"].str.upper().str.findall(rf"(?:{_CREDENTIAL_ALTS})(?![\w-])").str.join(", ")
    creds = creds.mask(creds == "")
    name = parts["name"].str.strip(" ,")
    is_number = series.str.fullmatch(r"\d+", na=False)
    is_login = name.str.fullmatch(r"[a-z0-9._-]+", na=False) & ~name.str.contains(" ", na=False)
    split = split_full_name(name.mask(is_number | is_login))
    first = proper_case(split["first_name"])
    last = proper_case(split["last_name"])
    full = (first.fillna("") + " " + last.fillna("")).str.strip()
    display = full.where(full != "", series.str.strip())
    display = display.where(creds.isna(), display + ", " + creds.fillna(""))
    display = display.where(~is_number, series.map(lambda v: id_label.format(id=v) if isinstance(v, str) else v))
    return pd.DataFrame(
        {"first_name": first, "last_name": last, "credentials": creds, "display_name": display}, index=series.index
    ).astype(object)


# --------------------------------------------------------------------------- phones, e-mail, places

_EXTENSION = re.compile(r"(?i)\s*(?:x|ext\.?|extension|#)\s*(\d{1,6})\s*$")


_PHONE_PUNCTUATION = str.maketrans("", "", "()-+. ")
_EXCEL_NUMBER = re.compile(r"\d+\.0+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")


@per_unique(distinct_share=0.5)
def format_phone(series: pd.Series) -> pd.Series:
    """Any US phone layout -> "(555) 555-1234", extensions kept as " x123"; unusable -> missing."""
    cells = _Cells(series)
    if cells.joined is None or not cells.values:
        return _format_phone_cells(series)
    # Most cells are digits and punctuation only: their digits come from one translate of
    # the whole column. The rest (extensions, letters, Excel's "5555551234.0") take the
    # regular-expression path below.
    digits = cells.joined.translate(_PHONE_PUNCTUATION).split(_SEP)
    simple = np.array([d.isascii() and d.isdigit() for d in digits], dtype=bool)
    if cells.has("."):
        simple &= ~np.array([("." in v and _EXCEL_NUMBER.fullmatch(v) is not None) for v in cells.values], dtype=bool)
    digits = [d[1:] if len(d) == 11 and d[0] == "1" else d for d in digits]
    formatted = [
        f"({d[:3]}) {d[3:6]}-{d[6:]}" if len(d) == 10 and d[0] not in "01" and d != d[0] * 10 else np.nan
        for d in digits
    ]
    result = cells.rebuild(formatted)
    if not simple.all():
        rest = np.zeros(len(series), dtype=bool)
        rest[cells.present] = ~simple
        result.loc[rest] = _format_phone_cells(series.loc[rest]).to_numpy()
    return result


def _format_phone_cells(series: pd.Series) -> pd.Series:
    text = series.astype("object").where(series.notna(), None)
    text = pd.Series(text, index=series.index, dtype="object")
    # Excel hands over numbers as "5555551234.0"; drop the fraction before taking digits.
    text = text.str.replace(r"^(\d+)\.0+$", r"\1", regex=True)
    extension = text.str.extract(_EXTENSION, expand=False)
    number = text.str.replace(_EXTENSION, "", regex=True)
    digits = number.str.replace(r"\D", "", regex=True)
    digits = digits.where(~((digits.str.len() == 11) & digits.str.startswith("1")), digits.str[1:])
    usable = (digits.str.len() == 10) & ~digits.str.match(r"^(\d)\1{9}$", na=False) & ~digits.str.match(r"^[01]", na=False)
    formatted = "(" + digits.str[0:3] + ") " + digits.str[3:6] + "-" + digits.str[6:10]
    formatted = formatted.where(extension.isna(), formatted + " x" + extension)
    return formatted.where(usable.fillna(False).astype(bool)).astype("object")


@per_unique(distinct_share=0.5)
def clean_email(series: pd.Series) -> pd.Series:
    """Lower-case addresses that look like addresses; anything else -> missing."""
    cells = _Cells(series)
    if cells.joined is None:
        text = series.str.lower().str.replace(r"^mailto:", "", regex=True).str.strip()
        return text.where(text.str.match(_EMAIL, na=False)).astype("object")
    joined = cells.joined.lower()
    lowered = joined.split(_SEP) if cells.values else []
    if "mailto:" in joined:
        lowered = [v[7:] if v.startswith("mailto:") else v for v in lowered]
    lowered = [v.strip() for v in lowered]
    ok = np.array([_EMAIL.match(v) is not None for v in lowered], dtype=bool)
    return cells.rebuild(lowered, missing=~ok)


@per_unique
def clean_postal_code(series: pd.Series) -> pd.Series:
    """Keep ZIP codes as text with their leading zeros; restore zeros Excel dropped."""
    text = series.str.replace(r"^(\d+)\.0+$", r"\1", regex=True).str.upper()
    text = text.where(~text.str.fullmatch(r"\d{4}", na=False), "0" + text)
    text = text.where(~text.str.fullmatch(r"\d{8}", na=False), "0" + text)
    nine = text.str.fullmatch(r"\d{9}", na=False)
    return text.where(~nine, text.str[:5] + "-" + text.str[5:]).astype("object")


@per_unique
def clean_state(series: pd.Series, names: Mapping[str, str] | None = None) -> pd.Series:
    upper = series.str.upper().str.replace(".", "", regex=False).str.strip()
    if names:
        full = upper.str.lower().map(dict(names))
        upper = full.where(full.notna(), upper)
    return upper.astype("object")


@per_unique
def normalize_language(series: pd.Series, languages: Mapping[str, str]) -> pd.Series:
    """Language names and codes -> ISO 639-1 ("Spanish", "SPA", "Español" -> "es").

    Unrecognised languages are kept as written (in their own casing) rather than lost.
    """
    lookup = {k.strip().lower(): v for k, v in languages.items()}
    codes = set(lookup.values())
    key = series.str.lower().str.replace(r"[^\w\s]+", " ", regex=True).str.replace(r"\s+", " ", regex=True).str.strip()
    found = key.map(lookup)
    by_word = key.str.split(" ").str[0].map(lookup)
    is_code = key.isin(codes)
    result = found.where(found.notna(), by_word)
    result = result.where(result.notna(), key.where(is_code))
    return result.where(result.notna(), series).astype("object")


# --------------------------------------------------------------------------- dates and times

# Date layouts tried in order on what is still unparsed; the first that fits wins.
DATE_FORMATS: tuple[tuple[str, str], ...] = (
    ("%m/%d/%Y", r"\d{1,2}/\d{1,2}/\d{4}"),
    ("%Y-%m-%d", r"\d{4}-\d{1,2}-\d{1,2}"),
    ("%Y%m%d", r"\d{8}"),
    ("%m/%d/%y", r"\d{1,2}/\d{1,2}/\d{2}"),
    ("%m-%d-%Y", r"\d{1,2}-\d{1,2}-\d{4}"),
    ("%m-%d-%y", r"\d{1,2}-\d{1,2}-\d{2}"),
    ("%Y/%m/%d", r"\d{4}/\d{1,2}/\d{1,2}"),
    ("%m.%d.%Y", r"\d{1,2}\.\d{1,2}\.\d{4}"),
    ("%d-%b-%Y", r"\d{1,2}-[A-Za-z]{3}-\d{4}"),
    ("%d-%b-%y", r"\d{1,2}-[A-Za-z]{3}-\d{2}"),
    ("%b %d %Y", r"[A-Za-z]{3} \d{1,2} \d{4}"),
    ("%B %d %Y", r"[A-Za-z]{4,} \d{1,2} \d{4}"),
    ("%d %b %Y", r"\d{1,2} [A-Za-z]{3} \d{4}"),
)
TWO_DIGIT_YEAR_FORMATS = {"%m/%d/%y", "%m-%d-%y", "%d-%b-%y"}
DATE_EXPECTED = "MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)"
TIME_EXPECTED = "hh:mm AM/PM, HH:MM or HHMM"

_TRAILING_TIME = re.compile(
    r"(?i)(?:[T\s]+)(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[ap]\.?m?\.?)?)$"
)
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")
# Dates outside these are typing slips (0202, 2520), not history or plans; they also
# would not fit datetime64[ns] on pandas 2.
EARLIEST_DATE = pd.Timestamp("1700-01-01")
LATEST_DATE = pd.Timestamp("2199-12-31 23:59:59")


@per_unique
def split_date_time(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ "03/05/2024 9:30 AM" -> ("03/05/2024", "9:30 AM"); a date alone keeps a missing time."""
    cells = _Cells(series)
    if cells.joined is not None and ":" not in cells.joined:
        # No cell holds a time: the dates are the cells, trimmed.
        dates = [v.strip() for v in cells.values]
        missing = np.array([v == "" for v in dates], dtype=bool) if "" in dates else None
        return cells.rebuild(dates, missing=missing), pd.Series(np.nan, index=series.index, dtype=object)
    time_part = series.str.extract(_TRAILING_TIME, expand=False)
    date_part = series.str.replace(_TRAILING_TIME, "", regex=True).str.strip()
    return date_part.mask(date_part == ""), time_part


@per_unique
def parse_dates(
    series: pd.Series,
    *,
    past_only: bool = False,
    as_of: dt.date | None = None,
    excel_serials: bool = False,
) -> tuple[pd.Series, pd.Series]:
    """Text dates -> (datetime64 Series at midnight, bad mask for present values that are not dates).

    A time part ("2024-03-05 00:00:00", "03/05/2024 9:30 AM") is ignored here; use
    ``parse_datetimes`` to keep it. ``past_only`` puts two-digit years in the past
    (a DOB of "3/5/24" read in 2024 is 1924 only if 2024-03-05 is still to come).
    ``excel_serials`` reads 5-digit numbers as Excel day counts (XLSX number cells).
    """
    date_text, _ = split_date_time(series)
    cells = _Cells(date_text)
    if cells.joined is None or "," in cells.joined or cells.odd_spacing():
        date_text = date_text.str.replace(",", " ", regex=False).str.replace(r"\s+", " ", regex=True).str.strip()
    result = pd.Series(pd.NaT, index=series.index, dtype="datetime64[ns]")
    two_digit = pd.Series(False, index=series.index)
    todo = date_text.notna()
    for fmt, shape in DATE_FORMATS:
        if not todo.any():
            break
        candidates = todo & date_text.str.fullmatch(shape, na=False)
        if not candidates.any():
            continue
        parsed = pd.to_datetime(date_text[candidates], format=fmt, errors="coerce")
        # A typed year such as 0202 or 2520 is no usable date (and would not fit datetime64[ns]).
        ok = parsed.notna() & (parsed >= EARLIEST_DATE) & (parsed <= LATEST_DATE)
        hit = ok[ok].index
        result.loc[hit] = parsed[ok].astype("datetime64[ns]")
        if fmt in TWO_DIGIT_YEAR_FORMATS:
            two_digit.loc[hit] = True
        todo.loc[hit] = False
    if excel_serials and todo.any():
        serial = todo & date_text.str.fullmatch(r"\d{5}(?:\.0+)?", na=False)
        if serial.any():
            days = pd.to_numeric(date_text[serial], errors="coerce")
            result.loc[serial] = (_EXCEL_EPOCH + pd.to_timedelta(days, unit="D")).astype("datetime64[ns]")
            todo.loc[serial] = False
    if past_only and two_digit.any():
        today = pd.Timestamp(as_of or dt.date.today())
        future = two_digit & (result > today)
        if future.any():
            result.loc[future] = result[future] - pd.DateOffset(years=100)
    bad = date_text.notna() & result.isna()
    return result, bad


@per_unique
def parse_times(series: pd.Series) -> tuple[pd.Series, pd.Series]:
    """ "9:30 AM", "09:30a", "14:30", "14:30:00", "0930" -> (timedelta Series, bad mask)."""
    text = series.str.strip()
    parts = text.str.extract(r"(?i)^(\d{1,2}):?(\d{2})(?::(\d{2})(?:\.\d+)?)?\s*(?:([ap])\.?\s*m?\.?)?$")
    hour = pd.to_numeric(parts[0], errors="coerce")
    minute = pd.to_numeric(parts[1], errors="coerce")
    second = pd.to_numeric(parts[2], errors="coerce").fillna(0)
    meridiem = parts[3].str.lower()
    has_meridiem = meridiem.notna()
    valid_12 = has_meridiem & hour.between(1, 12)
    valid_24 = ~has_meridiem & hour.between(0, 23)
    hour24 = hour.where(~has_meridiem, (hour % 12) + np.where(meridiem == "p", 12, 0))
    ok = (valid_12 | valid_24) & minute.between(0, 59) & (second < 60)
    delta = pd.to_timedelta(hour24 * 3600 + minute * 60 + second, unit="s").where(ok)
    bad = text.notna() & ~ok.fillna(False).astype(bool)
    return delta, bad


def parse_datetimes(
    date_series: pd.Series,
    time_series: pd.Series | None = None,
    *,
    excel_serials: bool = False,
) -> tuple[pd.Series, pd.Series, pd.Series]:
    """A date column plus an optional time column (or a time inside the date) -> datetimes.

    Returns (datetime64 Series, bad date mask, bad time mask).
    """
    dates, bad_date = parse_dates(date_series, excel_serials=excel_serials)
    _, inline_time = split_date_time(date_series)
    times_text = inline_time
    if time_series is not None:
        # An Excel time cell arrives as "1899-12-30 09:30:00" or "09:30:00"; keep the time.
        _, time_in_stamp = split_date_time(time_series)
        own = time_in_stamp.where(time_in_stamp.notna(), time_series)
        times_text = own.where(own.notna(), inline_time)
    times, bad_time = parse_times(times_text)
    start = dates + times.fillna(pd.Timedelta(0))
    return start, bad_date, bad_time
