"""Reading and changing one practice setting by name (``panelmanager settings show|set``).

The GUI's Settings screen edits the whole ``PracticeSettings`` form; a practice without
the GUI (or a script) changes one key at a time here. Every key is typed after its
field in ``PracticeSettings``; the text typed on a command line is parsed to that type
and checked against the same limits the Settings screen enforces, so a bad value is a
clear message naming the key and the allowed values, and nothing is saved.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from panelmanager.core.actions import audited_service
from panelmanager.core.permissions import require_current
from panelmanager.core.settings import PracticeSettings, load_settings, save_settings


class SettingError(ValueError):
    """A key or value the practice settings do not accept; the message says what would."""


@dataclass(frozen=True)
class SettingKey:
    name: str
    kind: str  # text, integer, number, yes/no, date, list, table
    help: str
    minimum: float | None = None
    maximum: float | None = None


# The keys in the order ``settings show`` lists them, with what each one is for. Limits
# match the Settings screen's spin boxes.
KEYS: tuple[SettingKey, ...] = (
    SettingKey("practice_name", "text", "name printed on letters, lists and the huddle sheet"),
    SettingKey("practice_address", "text", "letterhead address; separate lines with '\\n' or ';'"),
    SettingKey("practice_phone", "text", "phone number letters ask patients to call, e.g. (413) 555-0100"),
    SettingKey("user_name", "text", "who is working (empty: the computer login)"),
    SettingKey("as_of_override", "date", "work as of a fixed date, YYYY-MM-DD (empty: today)"),
    SettingKey("lookback_months", "integer", "assignment look-back in months", 6, 60),
    SettingKey("review_period_months", "integer", "panel review period in months", 1, 36),
    SettingKey("inactive_after_years", "integer", "suggest inactivating after no visit for this many years", 1, 10),
    SettingKey("due_soon_days", "integer", "a gap is 'due soon' within this many days", 0, 365),
    SettingKey("outreach_quiet_days", "integer", "leave patients contacted within this many days off outreach lists", 0, 365),
    SettingKey("milestone_assigned_threshold", "number", "share of active patients assigned for 'all assigned' (0.5-1)", 0.5, 1),
    SettingKey("milestone_confirmed_threshold", "number", "share of active patients confirmed for 'confirmed' (0.1-1)", 0.1, 1),
    SettingKey("measure_goals", "table", 'goal percent per measure, JSON, e.g. {"breast-cancer-screening": 75}', 0, 100),
    SettingKey("letters_one_per_gap", "yes/no", "one letter per care gap instead of one per patient"),
    SettingKey("letter_offsets_in", "table", 'envelope window in inches, JSON, e.g. {"window_left": 0.9}'),
    SettingKey("letter_logo_path", "text", "letterhead logo image (PNG/JPG) on this computer (empty: none)"),
    SettingKey("letter_signature_path", "text", "signature image (PNG/JPG) on this computer (empty: none)"),
    SettingKey("letter_signer_name", "text", "who signs letters (empty: the patient's provider)"),
    SettingKey("letter_signer_title", "text", "the signer's title"),
    SettingKey("label_start_position", "integer", "first free label on a partly used Avery 5160 sheet", 1, 30),
    SettingKey("panel_specialties", "list", "specialties that hold a panel, comma-separated (empty: the built-in list)"),
    SettingKey("default_clinic_days_per_fte", "number", "clinic days a year of a 1.0 FTE provider", 1, 366),
    SettingKey("default_visits_per_day", "number", "visits a day of a provider without their own figure", 1, 80),
    SettingKey("fallback_visits_per_patient_year", "number", "visits per patient a year until the registry can measure it", 0.5, 20),
    SettingKey("continuity_months", "integer", "continuity look-back in months", 1, 60),
    SettingKey("backup_daily", "yes/no", "copy the registry to the backups folder once a day when the app opens"),
    SettingKey("backup_keep_days", "integer", "remove automatic backup copies older than this many days (the newest stays)", 1, 3650),
    SettingKey("idle_lock_minutes", "integer", "lock the window after this many minutes without input", 1, 240),
)
_BY_NAME = {k.name: k for k in KEYS}
_TRUE = {"yes", "y", "true", "1", "on"}
_FALSE = {"no", "n", "false", "0", "off"}
_PHONE_CHARS = re.compile(r"^[0-9+().\-\s/x]*(ext\.?\s*\d+)?$", re.IGNORECASE)


@dataclass
class SettingValue:
    key: str
    kind: str
    value: Any
    text: str
    help: str


@dataclass
class SettingChange:
    key: str
    old: Any
    new: Any
    changed: bool


def display_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return json.dumps(value, sort_keys=True) if value else ""
    return str(value)


def show_settings(session: Session) -> list[SettingValue]:
    """Every key with its current value (reads only)."""
    settings = load_settings(session)
    return [
        SettingValue(key=k.name, kind=k.kind, value=getattr(settings, k.name), text=display_value(getattr(settings, k.name)), help=k.help)
        for k in KEYS
    ]


def setting_names() -> list[str]:
    return [k.name for k in KEYS]


def parse_setting(key: str, text: str) -> Any:
    """``text`` as the typed value of ``key``; SettingError says what is allowed."""
    spec = _BY_NAME.get(key)
    if spec is None:
        close = [n for n in _BY_NAME if key.lower().replace("-", "_") in n]
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise SettingError(f"'{key}' is not a setting.{hint} The settings are: {', '.join(_BY_NAME)}.")
    raw = text.strip()
    if spec.kind == "text":
        value = raw
        if key == "practice_address":
            value = "\n".join(part.strip() for part in re.split(r"\\n|;|\n", raw) if part.strip())
        elif key == "practice_phone" and value:
            digits = re.sub(r"\D", "", value.split("ext")[0])
            if not _PHONE_CHARS.match(value) or not 7 <= len(digits) <= 15:
                raise SettingError(
                    f"practice_phone: '{value}' is not a phone number; write it as the patients should dial it, "
                    "e.g. (413) 555-0100."
                )
        elif key == "practice_name" and not value:
            raise SettingError("practice_name: the practice needs a name (it heads every letter).")
        elif key in ("letter_logo_path", "letter_signature_path") and value:
            path = Path(value).expanduser()
            if not path.is_file() or path.suffix.lower() not in (".png", ".jpg", ".jpeg"):
                raise SettingError(f"{key}: there is no PNG or JPG image file at {value}.")
            value = str(path.resolve())
        return value
    if spec.kind == "yes/no":
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        raise SettingError(f"{key}: write yes or no (got '{raw}').")
    if spec.kind == "date":
        if not raw or raw.lower() in ("none", "today"):
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise SettingError(f"{key}: '{raw}' is not a date; write YYYY-MM-DD, or an empty value for today.") from None
    if spec.kind in ("integer", "number"):
        try:
            number: float = int(raw) if spec.kind == "integer" else float(raw)
        except ValueError:
            kind = "a whole number" if spec.kind == "integer" else "a number"
            raise SettingError(f"{key}: '{raw}' is not {kind}.") from None
        _check_range(spec, number)
        return number
    if spec.kind == "list":
        return [part.strip().upper() for part in raw.split(",") if part.strip()]
    # tables: JSON objects of numbers
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except json.JSONDecodeError:
        raise SettingError(f"{key}: write a JSON object, e.g. {spec.help.split('e.g. ', 1)[-1]}") from None
    if not isinstance(data, dict) or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in data.values()):
        raise SettingError(f"{key}: write a JSON object of numbers, e.g. {spec.help.split('e.g. ', 1)[-1]}")
    if key == "measure_goals":
        from panelmanager.core.measures import load_measures

        known = {m.id for m in load_measures()[0]}
        unknown = sorted(set(data) - known)
        if unknown:
            raise SettingError(f"measure_goals: {', '.join(unknown)} is not a measure; the measures are {', '.join(sorted(known))}.")
        for value in data.values():
            _check_range(spec, value)
    if key == "letter_offsets_in":
        from panelmanager.core.letter_templates import EnvelopeWindow

        try:
            EnvelopeWindow.from_offsets(data)
        except ValueError as exc:
            raise SettingError(f"letter_offsets_in: {exc}") from None
    return {str(k): float(v) for k, v in data.items()}


def _check_range(spec: SettingKey, number: float) -> None:
    if spec.minimum is not None and spec.maximum is not None and not spec.minimum <= number <= spec.maximum:
        low, high = (int(x) if float(x).is_integer() else x for x in (spec.minimum, spec.maximum))
        raise SettingError(f"{spec.name}: {number} is outside {low}-{high}.")


@audited_service("settings", details=lambda _a, _k, r: {"changed": [r.key] if r.changed else []})
def set_setting(session: Session, key: str, text: str) -> SettingChange:
    """Change one setting from the text typed for it; nothing is saved when it is refused."""
    require_current("settings")  # issue 14: refused unless the acting user's role may do this
    value = parse_setting(key, text)
    settings = load_settings(session)
    old = getattr(settings, key)
    updated = dataclasses.replace(settings, **{key: value})
    changed = old != value
    if changed:
        save_settings(session, updated)
    return SettingChange(key=key, old=old, new=value, changed=changed)


def settings_dataclass_keys() -> set[str]:
    """Every PracticeSettings field (tests check KEYS stays complete)."""
    return {f.name for f in dataclasses.fields(PracticeSettings)}
