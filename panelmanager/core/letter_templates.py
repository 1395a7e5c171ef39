"""Letter templates and the envelope window: what a letter says and where the address goes.

Templates are TOML files in ``resources/letters/`` (one per language), validated on load
with errors that name the file and the line; ``letter_language`` picks the template for a
patient's preferred language. ``EnvelopeWindow`` is the practice's setting for the window
of its envelopes. The PDF writer is ``core.reports.letters``; nothing here draws.
"""

from __future__ import annotations

import os
import re
import string
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from panelmanager.core.people import GapItem
from panelmanager.core.resources import ResourceError, load_toml, resource_path

inch = 72.0  # PDF points per inch (reportlab's ``inch``)
LETTER_PAGE_HEIGHT_PT = 792.0  # US Letter, 11 in


class LetterError(ValueError):
    """Letters cannot be printed as asked; the message says what to change."""


# --------------------------------------------------------------------------- templates

PLACEHOLDERS = frozenset(
    {"patient_name", "first_name", "last_name", "provider", "practice", "phone", "date", "gaps", "gap",
     "gap_paragraph", "gap_list"}
)
_LETTER_REQUIRED = ("subject", "greeting", "body", "closing")
_LETTER_OPTIONAL = ("greeting_minor", "address_minor", "body_minor", "single_body", "single_body_minor",
                    "signer_fallback")
_TOP_KEYS = {"language", "name", "letter", "messages", "paragraphs", "phrases"}
ADULT_AGE = 18


@dataclass(frozen=True)
class LetterTemplate:
    """One language's wording, validated."""

    language: str
    name: str
    path: Path
    letter: Mapping[str, str]
    messages: Mapping[str, str]
    paragraphs: Mapping[str, str]  # measure id -> why it matters
    phrases: Mapping[str, str]  # measure id -> the care, in this language (else the measure's own phrase)

    def text(self, key: str, minor: bool = False) -> str:
        if minor and self.letter.get(f"{key}_minor"):
            return self.letter[f"{key}_minor"]
        return self.letter.get(key, "")

    def phrase(self, gap: GapItem) -> str:
        return self.phrases.get(gap.measure_id) or gap.phrase or gap.title

    def paragraph(self, measure_id: str) -> str:
        return self.paragraphs.get(measure_id, "")


def _line_of(raw: str, needle: str) -> int | None:
    for number, line in enumerate(raw.splitlines(), start=1):
        if needle in line:
            return number
    return None


def _check_placeholders(path: Path, raw: str, key: str, text: str) -> None:
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f is not None]
    except ValueError as exc:
        line = _line_of(raw, text.strip().splitlines()[0] if text.strip() else key)
        where = f"line {line}" if line else f"key '{key}'"
        raise ResourceError(f"{path}: {where} ({key}): {exc}; write a literal brace twice ({{{{ or }}}}).") from None
    for name in fields:
        if name not in PLACEHOLDERS:
            line = _line_of(raw, "{" + name + "}")
            where = f"line {line}" if line else f"key '{key}'"
            raise ResourceError(
                f"{path}: {where} ({key}): unknown placeholder {{{name}}}; "
                f"known placeholders: {', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}."
            )


def _table(path: Path, data: Mapping[str, Any], key: str) -> dict[str, str]:
    value = data.get(key, {})
    if not isinstance(value, Mapping):
        raise ResourceError(f"{path}: key '{key}' must be a table ([{key}]).")
    out = {}
    for name, text in value.items():
        if not isinstance(text, str):
            raise ResourceError(f"{path}: key '{key}.{name}' must be text in quotes.")
        out[str(name)] = text.strip()
    return out


def parse_letter_template(path: Path) -> LetterTemplate:
    """Read and check one template file; errors name the file and the line or key."""
    data = load_toml(path)
    raw = path.read_text(encoding="utf-8")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise ResourceError(f"{path}: unknown key '{unknown[0]}' (known: {', '.join(sorted(_TOP_KEYS))}).")
    language = data.get("language", path.stem)
    if not isinstance(language, str) or not re.fullmatch(r"[a-z]{2,3}", language):
        raise ResourceError(f"{path}: key 'language' must be a language code such as \"en\" or \"es\".")
    letter = _table(path, data, "letter")
    for key in _LETTER_REQUIRED:
        if not letter.get(key):
            raise ResourceError(f"{path}: key 'letter.{key}' is missing.")
    extra = sorted(set(letter) - set(_LETTER_REQUIRED) - set(_LETTER_OPTIONAL))
    if extra:
        raise ResourceError(
            f"{path}: unknown key 'letter.{extra[0]}' "
            f"(known: {', '.join(_LETTER_REQUIRED + _LETTER_OPTIONAL)})."
        )
    for key in ("body", "body_minor"):
        if letter.get(key) and "{gaps}" not in letter[key]:
            raise ResourceError(f"{path}: key 'letter.{key}' must contain {{gaps}} (the list of care that is due).")
    for key in ("single_body", "single_body_minor"):
        if letter.get(key) and "{gap}" not in letter[key]:
            raise ResourceError(f"{path}: key 'letter.{key}' must contain {{gap}} (the care that is due).")
    messages = _table(path, data, "messages")
    paragraphs = _table(path, data, "paragraphs")
    phrases = _table(path, data, "phrases")
    for table_name, table in (("letter", letter), ("messages", messages), ("paragraphs", paragraphs),
                              ("phrases", phrases)):
        for key, text in table.items():
            _check_placeholders(path, raw, f"{table_name}.{key}", text)
    name = data.get("name", language)
    return LetterTemplate(
        language=language,
        name=str(name),
        path=path,
        letter=letter,
        messages=messages,
        paragraphs=paragraphs,
        phrases=phrases,
    )


_TEMPLATE_CACHE: dict[tuple, dict[str, LetterTemplate]] = {}


def load_letter_templates(folder: str | os.PathLike[str] | None = None) -> dict[str, LetterTemplate]:
    """Every ``<language>.toml`` in ``resources/letters`` by language code (cached until a file changes).

    Raises ``ResourceError`` naming the file and line when a template is broken, or when
    there is no English template (the fallback every letter needs).
    """
    base = Path(folder) if folder is not None else resource_path("letters")
    files = sorted(p for p in base.glob("*.toml") if re.fullmatch(r"[a-z]{2,3}", p.stem))
    key = (str(base), tuple((p.name, p.stat().st_mtime_ns) for p in files))
    cached = _TEMPLATE_CACHE.get(key)
    if cached is not None:
        return cached
    templates = {}
    for path in files:
        template = parse_letter_template(path)
        templates[template.language] = template
    if "en" not in templates:
        raise ResourceError(f"{base}: there is no en.toml; English is the fallback for every letter.")
    _TEMPLATE_CACHE.clear()
    _TEMPLATE_CACHE[key] = templates
    return templates


_LANGUAGE_ALIASES = {
    "english": "en", "eng": "en", "ingles": "en",
    "spanish": "es", "espanol": "es", "spa": "es", "castellano": "es", "castilian": "es",
}


def _plain(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalize_language(preferred: Any) -> str | None:
    """``"Spanish"``, ``"es-MX"``, ``"Español"`` -> ``"es"``; unknown or missing -> None."""
    if preferred is None or (not isinstance(preferred, str) and pd.isna(preferred)):
        return None
    words = re.findall(r"[a-z]+", _plain(str(preferred)).lower())
    if not words:
        return None
    first = words[0]
    if first in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[first]
    if len(first) in (2, 3):
        return first
    return None


def letter_language(preferred: Any, available: Sequence[str] | Mapping[str, Any] = ("en", "es")) -> str:
    """The template language for a patient: their preferred language if there is a template, else English."""
    code = normalize_language(preferred)
    return code if code is not None and code in available else "en"


# --------------------------------------------------------------------------- addresses

# Inches from the top-left corner of the unfolded letter to the area a #10 window
# envelope shows (window 4 1/2" x 1 1/8", 7/8" from the envelope's left edge; a letter
# tri-folded to 3 2/3" resting at the bottom of the envelope shows roughly 2"-3 1/8"
# from its top). Envelopes differ: print the calibration page and adjust in Settings.
DEFAULT_WINDOW = {"window_left": 0.875, "window_top": 2.0, "window_width": 4.5, "window_height": 1.125}
WINDOW_PADDING_IN = 0.15


@dataclass(frozen=True)
class EnvelopeWindow:
    left: float = DEFAULT_WINDOW["window_left"]
    top: float = DEFAULT_WINDOW["window_top"]
    width: float = DEFAULT_WINDOW["window_width"]
    height: float = DEFAULT_WINDOW["window_height"]

    @classmethod
    def from_offsets(cls, offsets: Mapping[str, float] | None) -> EnvelopeWindow:
        """From ``settings.letter_offsets_in``; missing keys keep the defaults, bad values are an error."""
        values = dict(DEFAULT_WINDOW)
        for key, value in (offsets or {}).items():
            if key not in DEFAULT_WINDOW:
                raise ValueError(f"letter offset '{key}' is not known (known: {', '.join(DEFAULT_WINDOW)}).")
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"letter offset '{key}' must be a number of inches.")
            values[key] = float(value)
        window = cls(values["window_left"], values["window_top"], values["window_width"], values["window_height"])
        if not (0 <= window.left and window.left + window.width <= 8.5 and 0 <= window.top
                and window.top + window.height <= 11 and window.width >= 2.5 and window.height >= 0.75):
            raise ValueError(
                "the envelope window must lie on the page and be at least 2.5 x 0.75 inches "
                f"(got left {window.left}, top {window.top}, width {window.width}, height {window.height})."
            )
        return window

    def rect(self, page_height: float = LETTER_PAGE_HEIGHT_PT) -> tuple[float, float, float, float]:
        """The window in PDF points: (x0, y0, x1, y1), origin bottom-left."""
        x0 = self.left * inch
        y1 = page_height - self.top * inch
        return x0, y1 - self.height * inch, x0 + self.width * inch, y1
