"""Import profiles: which column of a PM export holds which field, read from TOML files.

A profile (``resources/import_profiles/<name>.toml``) is written for a practice
manager to read and extend: the header synonyms of each field, the fields a patient
or appointment export must have, value translations (status codes, sex, languages),
and the placeholder values that mean "nothing here". ``generic`` knows the common
column names of any PM report; ``athenahealth`` and ``openemr`` know those systems'
exports. A profile may name ``base = "generic"`` to inherit its value translations and
placeholders. Every file is validated on load: an unknown key or a wrong type raises
``ResourceError`` naming the file and the key.

This module also matches a file's headers to fields (case, spacing and punctuation
do not matter) and picks the profile that fits a file best when none is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from panelmanager.core.resources import ResourceError, load_toml, resource_path

PROFILE_DIR = "import_profiles"
VISIT_TYPES_FILE = "visit_types.toml"
DEFAULT_PROFILE = "generic"


@dataclass(frozen=True)
class FieldInfo:
    """One field a PM export can provide; ``label`` is how messages describe it."""

    label: str
    frame: str  # "patients", "visits" or "providers"


# The field names users type in ``--map FIELD=COLUMN``; the order is the order of
# columns in messages. Patient fields first, then appointment fields.
FIELDS: dict[str, FieldInfo] = {
    "patient_id": FieldInfo("the PM system's patient id", "patients"),
    "mrn": FieldInfo("medical record number", "patients"),
    "full_name": FieldInfo("patient name in one column (LAST, FIRST M)", "patients"),
    "first_name": FieldInfo("first name", "patients"),
    "middle_name": FieldInfo("middle name or initial", "patients"),
    "last_name": FieldInfo("last name", "patients"),
    "suffix": FieldInfo("name suffix (Jr, Sr, III)", "patients"),
    "dob": FieldInfo("date of birth", "patients"),
    "sex": FieldInfo("sex", "patients"),
    "address1": FieldInfo("street address", "patients"),
    "address2": FieldInfo("address line 2", "patients"),
    "city": FieldInfo("city", "patients"),
    "state": FieldInfo("state", "patients"),
    "postal_code": FieldInfo("ZIP code", "patients"),
    "phone_home": FieldInfo("home phone", "patients"),
    "phone_mobile": FieldInfo("mobile phone", "patients"),
    "phone_work": FieldInfo("work phone", "patients"),
    "email": FieldInfo("e-mail address", "patients"),
    "preferred_language": FieldInfo("preferred language", "patients"),
    "patient_status": FieldInfo("patient status", "patients"),
    "deceased_date": FieldInfo("date of death", "patients"),
    "pcp": FieldInfo("primary care provider in the PM system", "patients"),
    "appt_id": FieldInfo("appointment id", "visits"),
    "appt_date": FieldInfo("appointment date", "visits"),
    "appt_time": FieldInfo("appointment time", "visits"),
    "appt_status": FieldInfo("appointment status", "visits"),
    "visit_type": FieldInfo("visit or appointment type", "visits"),
    "provider": FieldInfo("appointment provider", "visits"),
    "provider_npi": FieldInfo("appointment provider's NPI", "providers"),
    "provider_first_name": FieldInfo("appointment provider's first name", "providers"),
    "provider_last_name": FieldInfo("appointment provider's last name", "providers"),
    "location": FieldInfo("department or location", "visits"),
    "cancelled_date": FieldInfo("date the appointment was cancelled", "visits"),
    "cancel_reason": FieldInfo("cancellation reason", "visits"),
    "reason": FieldInfo("reason for the visit", "visits"),
}

FRAMES = ("patients", "visits")
PATIENT_STATUSES = ("active", "inactive", "deceased", "moved")
VISIT_STATUSES = ("scheduled", "arrived", "completed", "no-show", "cancelled")
OPEN_SLOT = "open"  # an appointment status meaning "no appointment here": the row is skipped
SEXES = ("F", "M", "U")
VISIT_CLASSES = ("wellness", "ambulatory", "outpatient", "emergency", "inpatient", "urgentcare", "virtual", "other")

# Fields whose translated values must come from a fixed list.
VOCABULARIES: dict[str, tuple[str, ...]] = {
    "sex": SEXES,
    "patient_status": PATIENT_STATUSES,
    "appt_status": (*VISIT_STATUSES, OPEN_SLOT),
}

# A header that starts with one of these words may still name the field without it
# ("Patient First Name" is "First Name"), for fields of the matching frame.
HEADER_PREFIXES: dict[str, tuple[str, ...]] = {
    "patients": ("patient", "pt", "pat"),
    "visits": ("appointment", "appt", "visit"),
}

_TOP_KEYS = {
    "name": str,
    "description": str,
    "source": str,
    "base": str,
    "provider_id_label": str,
    "encoding": str,
    "detect": dict,
    "fields": dict,
    "required": dict,
    "placeholders": dict,
    "values": dict,
    "words": dict,
}
_DETECT_KEYS = {"headers": list, "min_matches": int}
_PLACEHOLDER_KEYS = ("values", "names", "patterns")


def header_key(text: object) -> str:
    """How headers are compared: case, spaces and punctuation ignored; '#'/'Number' read as 'No'.

    "Date of Birth", "date_of_birth" and "DATE-OF-BIRTH" all give "dateofbirth";
    "Chart #", "Chart No." and "Chart Number" all give "chartno".
    """
    value = str(text).lower().replace("#", " no ")
    value = re.sub(r"\b(?:number|num|nbr)\b", "no", value)
    return re.sub(r"[^0-9a-z]+", "", value)


@dataclass(frozen=True)
class Profile:
    name: str
    path: Path
    description: str
    source: str
    fields: dict[str, tuple[str, ...]]
    required: dict[str, tuple[tuple[str, ...], ...]]
    values: dict[str, dict[str, str]]
    words: dict[str, dict[str, str]]
    placeholders: tuple[str, ...] = ()
    name_placeholders: tuple[str, ...] = ()
    placeholder_patterns: tuple[str, ...] = ()
    detect_headers: tuple[str, ...] = ()
    detect_min: int = 2
    provider_id_label: str = "Provider {id}"
    base: str | None = None
    # The code page the vendor writes single-byte exports in (UTF-8 files are always read as UTF-8).
    encoding: str | None = None
    _keys: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False, compare=False)

    def synonym_keys(self, field_name: str) -> tuple[str, ...]:
        if field_name not in self._keys:
            self._keys[field_name] = tuple(dict.fromkeys(header_key(s) for s in self.fields.get(field_name, ())))
        return self._keys[field_name]

    def known_keys(self) -> set[str]:
        return {k for f in self.fields for k in self.synonym_keys(f)}

    def header_score(self, cells: Iterable[object]) -> int:
        """How many of ``cells`` this profile recognises as field headers."""
        known = self.known_keys()
        score = 0
        for cell in cells:
            key = header_key(cell)
            if key and (key in known or any(_strip_prefix(key, p) in known for p in _all_prefixes())):
                score += 1
        return score

    def detect_score(self, headers: Iterable[object]) -> int:
        keys = {header_key(h) for h in headers}
        return sum(1 for hint in self.detect_headers if header_key(hint) in keys)


def _all_prefixes() -> tuple[str, ...]:
    return tuple(p for group in HEADER_PREFIXES.values() for p in group)


def _strip_prefix(key: str, prefix: str) -> str:
    return key[len(prefix) :] if key.startswith(prefix) and len(key) > len(prefix) else ""


# --------------------------------------------------------------------------- loading


def profiles_dir() -> Path:
    return resource_path(PROFILE_DIR)


def available_profiles() -> list[str]:
    folder = profiles_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*.toml") if p.name != VISIT_TYPES_FILE)


def _fail(path: Path, key: str, problem: str) -> ResourceError:
    return ResourceError(f"{path}: {key}: {problem}")


def _str_list(path: Path, key: str, value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(path, key, "must be a list of text values in quotes, e.g. [\"DOB\", \"Birth Date\"]")
    return tuple(value)


def _str_table(path: Path, key: str, value: object) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _fail(path, key, "must be a table of \"text\" = \"value\" lines")
    for k, v in value.items():
        if not isinstance(v, str):
            raise _fail(path, f"{key}.{k}", f"must be text in quotes, not {type(v).__name__}")
    return {str(k): v for k, v in value.items()}


def _check_field(path: Path, key: str, name: str) -> None:
    if name not in FIELDS:
        raise _fail(path, key, f"'{name}' is not a field Panel Manager knows; fields are: {', '.join(FIELDS)}")


def _check_vocabulary(path: Path, key: str, field_name: str, table: Mapping[str, str]) -> None:
    allowed = VOCABULARIES.get(field_name)
    if not allowed:
        return
    for k, v in table.items():
        if v not in allowed and v != "":
            raise _fail(path, f"{key}.{k}", f"'{v}' must be one of {', '.join(allowed)} (or \"\" for missing)")


def _parse_profile(path: Path, data: dict, base: Profile | None) -> Profile:
    for key, value in data.items():
        if key not in _TOP_KEYS:
            raise _fail(path, key, f"unknown key; a profile has only {', '.join(_TOP_KEYS)}")
        if not isinstance(value, _TOP_KEYS[key]):
            kind = "a [table]" if _TOP_KEYS[key] is dict else f"{_TOP_KEYS[key].__name__}"
            raise _fail(path, key, f"must be {kind}, not {type(value).__name__}")
    for needed in ("name", "source"):
        if needed not in data:
            raise _fail(path, needed, "missing; every profile needs a name and a source")
    if data["name"] != path.stem:
        raise _fail(path, "name", f"'{data['name']}' must match the file name '{path.stem}'")

    detect = data.get("detect", {})
    for key, value in detect.items():
        if key not in _DETECT_KEYS:
            raise _fail(path, f"detect.{key}", f"unknown key; [detect] has only {', '.join(_DETECT_KEYS)}")
        if not isinstance(value, _DETECT_KEYS[key]) or isinstance(value, bool):
            raise _fail(path, f"detect.{key}", f"must be {_DETECT_KEYS[key].__name__}")
    detect_headers = _str_list(path, "detect.headers", detect.get("headers", []))

    fields: dict[str, tuple[str, ...]] = {}
    for name, synonyms in data.get("fields", {}).items():
        _check_field(path, f"fields.{name}", name)
        fields[name] = _str_list(path, f"fields.{name}", synonyms)

    required: dict[str, tuple[tuple[str, ...], ...]] = dict(base.required) if base else {}
    for frame, items in data.get("required", {}).items():
        if frame not in FRAMES:
            raise _fail(path, f"required.{frame}", f"unknown frame; required fields are listed for {', '.join(FRAMES)}")
        groups = []
        for item in _str_list(path, f"required.{frame}", items):
            alternatives = tuple(a.strip() for a in item.split("|"))
            for alt in alternatives:
                _check_field(path, f"required.{frame}", alt)
            groups.append(alternatives)
        required[frame] = tuple(groups)
    if not required:
        raise _fail(path, "required", "missing; list the fields a patient or appointment export must have")

    def tables(section: str) -> dict[str, dict[str, str]]:
        merged: dict[str, dict[str, str]] = {k: dict(v) for k, v in (getattr(base, section) if base else {}).items()}
        for name, table in data.get(section, {}).items():
            _check_field(path, f"{section}.{name}", name)
            if section == "words" and name not in VOCABULARIES:
                raise _fail(path, f"{section}.{name}", f"[words] sections are read only for {', '.join(VOCABULARIES)}")
            parsed = _str_table(path, f"{section}.{name}", table)
            _check_vocabulary(path, f"{section}.{name}", name, parsed)
            merged.setdefault(name, {}).update(parsed)
        return merged

    values = tables("values")
    words = tables("words")

    placeholders = data.get("placeholders", {})
    for key in placeholders:
        if key not in _PLACEHOLDER_KEYS:
            raise _fail(path, f"placeholders.{key}", f"unknown key; [placeholders] has only {', '.join(_PLACEHOLDER_KEYS)}")
    lists = {k: _str_list(path, f"placeholders.{k}", placeholders.get(k, [])) for k in _PLACEHOLDER_KEYS}
    for pattern in lists["patterns"]:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise _fail(path, "placeholders.patterns", f"'{pattern}' is not a valid pattern: {exc}") from None

    label = data.get("provider_id_label", base.provider_id_label if base else "Provider {id}")
    if "{id}" not in label:
        raise _fail(path, "provider_id_label", "must contain {id}, e.g. \"Provider {id}\"")

    encoding = data.get("encoding", base.encoding if base else None)
    if encoding is not None:
        import codecs

        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise _fail(path, "encoding", f"'{encoding}' is not a text encoding; use e.g. \"cp1252\" or \"utf-8\"") from None

    def merged_list(key: str, inherited: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys((*inherited, *lists[key])))

    return Profile(
        name=data["name"],
        path=path,
        description=data.get("description", ""),
        source=data["source"],
        fields=fields,
        required=required,
        values=values,
        words=words,
        placeholders=merged_list("values", base.placeholders if base else ()),
        name_placeholders=merged_list("names", base.name_placeholders if base else ()),
        placeholder_patterns=merged_list("patterns", base.placeholder_patterns if base else ()),
        detect_headers=detect_headers,
        detect_min=int(detect.get("min_matches", 2)),
        provider_id_label=label,
        base=data.get("base"),
        encoding=encoding,
    )


def load_profile_file(path: Path, _chain: tuple[str, ...] = ()) -> Profile:
    """Read and validate one profile file (its ``base`` is read from the same folder)."""
    data = load_toml(path)
    base: Profile | None = None
    base_name = data.get("base")
    if base_name is not None:
        if not isinstance(base_name, str):
            raise _fail(path, "base", "must be the name of another profile in quotes")
        if base_name in (*_chain, path.stem):
            raise _fail(path, "base", f"profiles inherit from each other in a circle ({' -> '.join((*_chain, path.stem, base_name))})")
        base_path = path.with_name(f"{base_name}.toml")
        if not base_path.exists():
            raise _fail(path, "base", f"there is no profile '{base_name}' beside this file")
        base = load_profile_file(base_path, (*_chain, path.stem))
    return _parse_profile(path, data, base)


@lru_cache(maxsize=32)
def _load_cached(path: str, mtime: float) -> Profile:
    return load_profile_file(Path(path))


def load_profile(name: str) -> Profile:
    """The profile called ``name``; an unknown name raises ``KeyError`` with the names there are."""
    path = profiles_dir() / f"{name}.toml"
    if name == Path(VISIT_TYPES_FILE).stem or not path.exists():
        raise KeyError(name)
    return _load_cached(str(path), path.stat().st_mtime)


def load_profiles() -> list[Profile]:
    return [load_profile(name) for name in available_profiles()]


def detect_profile(headers: Sequence[object], profiles: Sequence[Profile]) -> Profile:
    """The profile whose detection headers the file shows most; ``generic`` when none fits."""
    best: Profile | None = None
    best_score = 0
    for profile in profiles:
        score = profile.detect_score(headers)
        if profile.detect_headers and score >= profile.detect_min and score > best_score:
            best, best_score = profile, score
    if best is not None:
        return best
    for profile in profiles:
        if profile.name == DEFAULT_PROFILE:
            return profile
    for profile in profiles:
        if not profile.detect_headers:
            return profile
    raise ResourceError(f"{profiles_dir()}: no '{DEFAULT_PROFILE}' import profile found.")


def match_columns(profile: Profile, headers: Sequence[str], mapping: Mapping[str, str] | None = None) -> dict[str, str]:
    """field -> column of ``headers``; ``mapping`` (already validated) wins over the profile.

    Fields are matched in the profile's order, each synonym in turn, so the first
    field listing a header claims it. A header not matched exactly may still match
    without a leading "Patient"/"Appt" word.
    """
    mapping = dict(mapping or {})
    keys = [header_key(h) for h in headers]
    claimed: set[str] = set(mapping.values())
    result: dict[str, str] = dict(mapping)

    def claim(field_name: str, predicate) -> bool:
        for synonym in profile.synonym_keys(field_name):
            for header, key in zip(headers, keys):
                if header not in claimed and key and predicate(key, synonym):
                    result[field_name] = header
                    claimed.add(header)
                    return True
        return False

    for name in profile.fields:
        if name not in result:
            claim(name, lambda key, synonym: key == synonym)
    for name in profile.fields:
        if name in result:
            continue
        prefixes = HEADER_PREFIXES.get(FIELDS[name].frame, ())
        claim(name, lambda key, synonym, p=prefixes: any(_strip_prefix(key, x) == synonym for x in p))
    return {name: result[name] for name in FIELDS if name in result}


def fallback_columns(profile: Profile, headers: Sequence[str], columns: Mapping[str, str]) -> dict[str, list[str]]:
    """Other columns naming an already matched field, in synonym order, to fill its gaps.

    OpenEMR's calendar has ``pc_title`` and ``pc_catid``; a report may have both "Home
    Phone" and "Phone": an empty cell in the first is filled from the next.
    """
    claimed = set(columns.values())
    keys = [header_key(h) for h in headers]
    extra: dict[str, list[str]] = {}
    for name, column in columns.items():
        for synonym in profile.synonym_keys(name):
            for header, key in zip(headers, keys):
                if key == synonym and header not in claimed and header != column:
                    extra.setdefault(name, []).append(header)
                    claimed.add(header)
    return extra


# --------------------------------------------------------------------------- visit types


@dataclass(frozen=True)
class VisitTypeRules:
    """Visit type text -> visit class, first rule whose words occur in the text wins."""

    path: Path
    default: str
    rules: tuple[tuple[str, tuple[str, ...]], ...]

    def as_words(self) -> dict[str, str]:
        words: dict[str, str] = {}
        for visit_class, phrases in self.rules:
            for phrase in phrases:
                words.setdefault(phrase, visit_class)
        return words


def load_visit_types(path: Path | None = None) -> VisitTypeRules:
    path = path or profiles_dir() / VISIT_TYPES_FILE
    data = load_toml(path)
    for key in data:
        if key not in ("description", "default", "rule"):
            raise _fail(path, key, "unknown key; the file has only description, default and [[rule]] entries")
    default = data.get("default", "ambulatory")
    if default not in VISIT_CLASSES:
        raise _fail(path, "default", f"'{default}' must be one of {', '.join(VISIT_CLASSES)}")
    rules = []
    raw_rules = data.get("rule", [])
    if not isinstance(raw_rules, list):
        raise _fail(path, "rule", "write each rule as a [[rule]] table")
    for index, rule in enumerate(raw_rules, start=1):
        where = f"rule {index}"
        if not isinstance(rule, dict):
            raise _fail(path, where, "must be a [[rule]] table")
        for key in rule:
            if key not in ("class", "words", "note"):
                raise _fail(path, f"{where}.{key}", "unknown key; a rule has class, words and an optional note")
        visit_class = rule.get("class")
        if visit_class not in VISIT_CLASSES:
            raise _fail(path, f"{where}.class", f"'{visit_class}' must be one of {', '.join(VISIT_CLASSES)}")
        rules.append((visit_class, _str_list(path, f"{where}.words", rule.get("words", []))))
    return VisitTypeRules(path=path, default=default, rules=tuple(rules))
