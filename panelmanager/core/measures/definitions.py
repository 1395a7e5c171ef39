"""Measure definitions: one TOML file per measure in ``resources/measures/``, validated on load.

A definition says who is eligible, who is excluded and what closes the gap, in words a
practice manager can read and change. The layout (every key is optional unless marked)::

    id = "colorectal-cancer-screening"          # required, stable: results are stored under it
    title = "Colorectal cancer screening"       # required, for staff
    letter_phrase = "a colon cancer screening"  # required, for patient letters
    inverse = false                             # true: the eCQM counts the *bad* outcome
    order = 30                                  # position in lists

    [source]                                    # required: ecqm + version, or guideline
    ecqm = "CMS130"
    version = "v14"
    url = "https://ecqi.healthit.gov/ecqm/ec/2026/cms0130v14"
    notes = "How this file simplifies the eCQM."

    [eligible]
    age_min = 45                 # whole years on the as-of date, inclusive
    age_max = 75
    age_min_months = 6           # for infants (influenza)
    turns_age = 2                # turns this age during the as-of date's calendar year
    sex = "F"                    # F or M
    diagnoses = ["diabetes"]     # value sets; at least one active on the as-of date
    requires_open_gap = false    # panel gap: only patients with another open gap
    requires_data = "medications"  # skip the measure when the registry has none
    [eligible.visits]            # visit requirement
    classes = ["wellness", "ambulatory"]
    within_months = 12
    min_count = 1
    [[eligible.populations]]     # any one of these must hold as well (CMS347)
    label = "diabetes 40-75"
    age_min = 40
    diagnoses = ["diabetes"]     # active now;  diagnoses_ever = [...] any time
    result = { valueset = "ldl-cholesterol", at_least = 190 }   # any result ever

    [[exclusions]]               # any one excludes
    kind = "condition"           # condition, procedure, observation, immunization, medication
    valueset = "colorectal-cancer"
    within_months = 12           # optional: only events this recent (default: ever)
    active = true                # conditions: only if active on the as-of date
    onset_before_months = 12     # conditions: only if diagnosed before the 12-month period (CMS2)

    [[satisfied_by]]             # any one closes the gap
    kind = "procedure"           # procedure, observation, immunization, medication, visit,
                                 # appointment, result, doses
    valueset = "colonoscopy"
    lookback_years = 10          # or lookback_months, or season = "influenza", or ever = true
    exclude_settings = ["emergency", "inpatient"]  # results: readings of these encounter classes
                                 # do not count (CMS165)
    as_empanelment = true        # visits: the visits empanelment counts (its classes, panel
                                 # providers), instead of classes = [...]
    [[satisfied_by.doses]]       # doses: label, valueset, count, min_age_days / min_age_months

    [staff_terms]                # optional: what staff read instead of met / open
    met = "A1c under control"    # met and due-soon
    failed = "A1c above 9"       # open: the most recent result is out of range
    missing = "No A1c this year" # open: nothing (valid) on record

Errors name the file and the key (``satisfied_by[2].lookbak_years``); one broken file
never stops the other measures from loading.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from panelmanager.core.measures.valuesets import ValueSet, load_valuesets
from panelmanager.core.resources import ResourceError, load_toml, resources_dir

__all__ = [
    "DoseRequirement",
    "Exclusion",
    "Eligibility",
    "MeasureDefinition",
    "MeasureSource",
    "Population",
    "ResultComponent",
    "Satisfier",
    "StaffTerms",
    "VisitRequirement",
    "definitions_fingerprint",
    "load_measures",
]

EVENT_KINDS = ("condition", "procedure", "observation", "immunization", "medication")
SATISFIER_KINDS = ("procedure", "observation", "immunization", "medication", "visit", "appointment", "result", "doses")
VISIT_CLASSES = ("wellness", "ambulatory", "outpatient", "emergency", "inpatient", "urgentcare", "virtual", "other")
OPERATORS = ("less_than", "at_most", "greater_than", "at_least")


# --------------------------------------------------------------------------- the model


@dataclass(frozen=True)
class MeasureSource:
    ecqm: str | None = None
    version: str | None = None
    guideline: str | None = None
    url: str | None = None
    notes: str | None = None

    def describe(self) -> str:
        """``CMS130v14`` or the guideline's name, for lists."""
        if self.ecqm:
            return f"{self.ecqm}{self.version or ''}"
        return self.guideline or ""


@dataclass(frozen=True)
class VisitRequirement:
    classes: tuple[str, ...] = ()
    within_months: int = 12
    min_count: int = 1


@dataclass(frozen=True)
class ResultComponent:
    """One value on the most recent result day, and the bound it must meet."""

    valueset: ValueSet
    operator: str
    bound: float
    label: str = ""

    def passes(self, values):
        """Vectorized: which values meet the bound (missing values never do)."""
        if self.operator == "less_than":
            return values < self.bound
        if self.operator == "at_most":
            return values <= self.bound
        if self.operator == "greater_than":
            return values > self.bound
        return values >= self.bound


@dataclass(frozen=True)
class Population:
    label: str = ""
    age_min: int | None = None
    age_max: int | None = None
    diagnoses: tuple[ValueSet, ...] = ()
    diagnoses_ever: tuple[ValueSet, ...] = ()
    result: ResultComponent | None = None


@dataclass(frozen=True)
class Eligibility:
    age_min: int | None = None
    age_max: int | None = None
    age_min_months: int | None = None
    turns_age: int | None = None
    sex: str | None = None
    diagnoses: tuple[ValueSet, ...] = ()
    visits: VisitRequirement | None = None
    populations: tuple[Population, ...] = ()
    requires_open_gap: bool = False
    requires_data: str | None = None


@dataclass(frozen=True)
class Exclusion:
    kind: str
    valueset: ValueSet
    within_months: int | None = None
    active: bool = False
    onset_before_months: int | None = None


@dataclass(frozen=True)
class StaffTerms:
    """Plain words for a measure's statuses (an inverse measure reads backwards otherwise)."""

    met: str | None = None
    failed: str | None = None
    missing: str | None = None


@dataclass(frozen=True)
class DoseRequirement:
    """``count`` doses from ``valueset`` (or any alternative) by the age limit."""

    label: str
    options: tuple[tuple[ValueSet, int], ...]
    min_age_days: int = 0
    min_age_months: int = 0


@dataclass(frozen=True)
class Satisfier:
    kind: str
    valueset: ValueSet | None = None
    lookback_months: int | None = None
    season: str | None = None
    ever: bool = False
    age_min: int | None = None
    age_max: int | None = None
    classes: tuple[str, ...] = ()
    within_days: int | None = None
    components: tuple[ResultComponent, ...] = ()
    same_day: str = "lowest"
    by_age_months: int | None = None
    doses: tuple[DoseRequirement, ...] = ()
    exclude_settings: tuple[str, ...] = ()
    as_empanelment: bool = False


@dataclass(frozen=True)
class MeasureDefinition:
    id: str
    title: str
    letter_phrase: str
    source: MeasureSource
    eligible: Eligibility
    exclusions: tuple[Exclusion, ...] = ()
    satisfied_by: tuple[Satisfier, ...] = ()
    inverse: bool = False
    description: str = ""
    order: int = 1000
    staff_terms: StaffTerms = StaffTerms()
    path: Path | None = field(default=None, compare=False)

    @property
    def is_panel_gap(self) -> bool:
        return self.eligible.requires_open_gap or all(s.kind in ("visit", "appointment") for s in self.satisfied_by)


# --------------------------------------------------------------------------- validation


class _Reader:
    """Reads one table of a TOML file, naming ``file: key`` in every error."""

    def __init__(self, path: Path, data: Mapping[str, Any], prefix: str, valuesets: Mapping[str, ValueSet]):
        self.path = path
        self.data = data
        self.prefix = prefix
        self.valuesets = valuesets

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, message: str) -> ResourceError:
        return ResourceError(f"{self.path}: key '{self.key(name)}': {message}")

    def check_keys(self, allowed: set[str]) -> None:
        unknown = sorted(set(self.data) - allowed)
        if unknown:
            raise self.fail(unknown[0], f"unknown key (known keys here: {', '.join(sorted(allowed))}).")

    def sub(self, name: str, data: Any) -> _Reader:
        if not isinstance(data, Mapping):
            raise self.fail(name, "must be a table.")
        return _Reader(self.path, data, f"{self.prefix}{name}.", self.valuesets)

    def text(self, name: str, required: bool = False) -> str | None:
        value = self.data.get(name)
        if value is None:
            if required:
                raise ResourceError(f"{self.path}: key '{self.key(name)}' is missing.")
            return None
        if not isinstance(value, str) or not value.strip():
            raise self.fail(name, "must be text.")
        return value.strip()

    def integer(self, name: str, minimum: int = 0) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.fail(name, f"must be a whole number of at least {minimum}.")
        return value

    def number(self, name: str) -> float | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(name, "must be a number.")
        return float(value)

    def flag(self, name: str) -> bool:
        value = self.data.get(name, False)
        if not isinstance(value, bool):
            raise self.fail(name, "must be true or false.")
        return value

    def valueset(self, name: str, value: Any = None, required: bool = True) -> ValueSet | None:
        ref = self.data.get(name) if value is None else value
        if ref is None:
            if required:
                raise ResourceError(f"{self.path}: key '{self.key(name)}' is missing (the value set to use).")
            return None
        if not isinstance(ref, str):
            raise self.fail(name, "must name a value set (a file in resources/valuesets without .toml).")
        vs = self.valuesets.get(ref)
        if vs is None:
            raise self.fail(name, f"no value set named '{ref}' in resources/valuesets (or it failed to load).")
        return vs

    def valueset_list(self, name: str) -> tuple[ValueSet, ...]:
        refs = self.data.get(name, [])
        if not isinstance(refs, list):
            raise self.fail(name, "must be a list of value set names.")
        return tuple(self.valueset(name, ref) for ref in refs)  # type: ignore[misc]

    def table_list(self, name: str) -> list[_Reader]:
        items = self.data.get(name, [])
        if not isinstance(items, list):
            raise self.fail(name, f"must be a list of tables ([[{self.key(name)}]]).")
        readers = []
        for i, item in enumerate(items, start=1):
            if not isinstance(item, Mapping):
                raise self.fail(f"{name}[{i}]", "must be a table.")
            readers.append(_Reader(self.path, item, f"{self.prefix}{name}[{i}].", self.valuesets))
        return readers

    def lookback(self) -> int | None:
        months = self.integer("lookback_months", 1)
        years = self.integer("lookback_years", 1)
        if months is not None and years is not None:
            raise self.fail("lookback_years", "give lookback_months or lookback_years, not both.")
        return months if months is not None else (years * 12 if years is not None else None)


def _component(reader: _Reader) -> ResultComponent:
    reader.check_keys({"valueset", "label", *OPERATORS})
    given = [op for op in OPERATORS if op in reader.data]
    if len(given) != 1:
        raise reader.fail("valueset", f"give exactly one bound: {', '.join(OPERATORS)}.")
    bound = reader.number(given[0])
    assert bound is not None
    vs = reader.valueset("valueset")
    assert vs is not None
    return ResultComponent(vs, given[0], bound, reader.text("label") or vs.title)


def _population(reader: _Reader) -> Population:
    reader.check_keys({"label", "age_min", "age_max", "diagnoses", "diagnoses_ever", "result"})
    result = None
    if "result" in reader.data:
        result = _component(reader.sub("result", reader.data["result"]))
    population = Population(
        label=reader.text("label") or "",
        age_min=reader.integer("age_min"),
        age_max=reader.integer("age_max"),
        diagnoses=reader.valueset_list("diagnoses"),
        diagnoses_ever=reader.valueset_list("diagnoses_ever"),
        result=result,
    )
    if not (population.diagnoses or population.diagnoses_ever or population.result or population.age_min is not None):
        raise reader.fail("label", "a population needs diagnoses, diagnoses_ever, result or an age range.")
    return population


def _eligibility(reader: _Reader) -> Eligibility:
    reader.check_keys(
        {
            "age_min",
            "age_max",
            "age_min_months",
            "turns_age",
            "sex",
            "diagnoses",
            "visits",
            "populations",
            "requires_open_gap",
            "requires_data",
        }
    )
    sex = reader.text("sex")
    if sex is not None and sex.upper() not in ("F", "M"):
        raise reader.fail("sex", "must be \"F\" or \"M\".")
    visits = None
    if "visits" in reader.data:
        v = reader.sub("visits", reader.data["visits"])
        v.check_keys({"classes", "within_months", "min_count"})
        visits = VisitRequirement(
            classes=_classes(v),
            within_months=v.integer("within_months", 1) or 12,
            min_count=v.integer("min_count", 1) or 1,
        )
    requires_data = reader.text("requires_data")
    if requires_data is not None and requires_data not in ("medications", "immunizations", "procedures", "observations"):
        raise reader.fail("requires_data", "must be medications, immunizations, procedures or observations.")
    age_min, age_max = reader.integer("age_min"), reader.integer("age_max")
    if age_min is not None and age_max is not None and age_min > age_max:
        raise reader.fail("age_max", f"is below age_min ({age_min}).")
    return Eligibility(
        age_min=age_min,
        age_max=age_max,
        age_min_months=reader.integer("age_min_months"),
        turns_age=reader.integer("turns_age", 1),
        sex=sex.upper() if sex else None,
        diagnoses=reader.valueset_list("diagnoses"),
        visits=visits,
        populations=tuple(_population(p) for p in reader.table_list("populations")),
        requires_open_gap=reader.flag("requires_open_gap"),
        requires_data=requires_data,
    )


def _classes(reader: _Reader) -> tuple[str, ...]:
    classes = reader.data.get("classes", [])
    if not isinstance(classes, list) or any(c not in VISIT_CLASSES for c in classes):
        raise reader.fail("classes", f"must be a list of visit classes from: {', '.join(VISIT_CLASSES)}.")
    return tuple(classes)


def _exclusion(reader: _Reader) -> Exclusion:
    reader.check_keys({"kind", "valueset", "within_months", "active", "onset_before_months"})
    kind = reader.text("kind", required=True)
    if kind not in EVENT_KINDS:
        raise reader.fail("kind", f"'{kind}' is not one of {', '.join(EVENT_KINDS)}.")
    active = reader.flag("active")
    if active and kind != "condition":
        raise reader.fail("active", "only conditions can be 'active'.")
    onset_before = reader.integer("onset_before_months", 1)
    if onset_before is not None and kind != "condition":
        raise reader.fail("onset_before_months", "only conditions have an onset.")
    vs = reader.valueset("valueset")
    assert vs is not None
    return Exclusion(
        kind=kind,
        valueset=vs,
        within_months=reader.integer("within_months", 1),
        active=active,
        onset_before_months=onset_before,
    )


_SATISFIER_KEYS = {
    "procedure": {"lookback", "valueset", "ages"},
    "observation": {"lookback", "valueset", "ages"},
    "immunization": {"lookback", "valueset", "ages"},
    "medication": {"lookback", "valueset", "ages"},
    "visit": {"lookback", "classes", "ages", "as_empanelment"},
    "appointment": {"within_days", "classes"},
    "result": {"lookback", "components", "same_day", "ages", "exclude_settings"},
    "doses": {"by_age_months", "doses"},
}


def _satisfier(reader: _Reader) -> Satisfier:
    kind = reader.text("kind", required=True)
    if kind not in SATISFIER_KINDS:
        raise reader.fail("kind", f"'{kind}' is not one of {', '.join(SATISFIER_KINDS)}.")
    groups = _SATISFIER_KEYS[kind]
    allowed = {"kind"}
    if "lookback" in groups:
        allowed |= {"lookback_months", "lookback_years", "season", "ever"}
    if "valueset" in groups:
        allowed.add("valueset")
    if "ages" in groups:
        allowed |= {"age_min", "age_max"}
    allowed |= groups - {"lookback", "valueset", "ages"}
    reader.check_keys(allowed)

    lookback = reader.lookback() if "lookback" in groups else None
    season = reader.text("season") if "lookback" in groups else None
    ever = reader.flag("ever") if "lookback" in groups else False
    if season is not None and season != "influenza":
        raise reader.fail("season", "the only season known is \"influenza\" (August 1 to July 31).")
    if "lookback" in groups and sum(x is not None and x is not False for x in (lookback, season, ever or None)) != 1:
        raise reader.fail("lookback_months", "give exactly one of lookback_months, lookback_years, season or ever = true.")

    components: tuple[ResultComponent, ...] = ()
    if kind == "result":
        parts = reader.table_list("components")
        if not parts:
            raise reader.fail("components", "a result needs at least one component ([[satisfied_by.components]]).")
        components = tuple(_component(p) for p in parts)
        if season or ever:
            raise reader.fail("lookback_months", "a result needs lookback_months or lookback_years.")
    settings: tuple[str, ...] = ()
    if "exclude_settings" in reader.data:
        raw = reader.data["exclude_settings"]
        if not isinstance(raw, list) or any(c not in VISIT_CLASSES for c in raw):
            raise reader.fail("exclude_settings", f"must be a list of visit classes from: {', '.join(VISIT_CLASSES)}.")
        settings = tuple(raw)
    as_empanelment = reader.flag("as_empanelment")
    if as_empanelment and reader.data.get("classes"):
        raise reader.fail("as_empanelment", "give classes or as_empanelment = true, not both.")
    same_day = reader.text("same_day") or "lowest"
    if same_day not in ("lowest", "latest"):
        raise reader.fail("same_day", "must be \"lowest\" (CMS165) or \"latest\".")

    doses: tuple[DoseRequirement, ...] = ()
    if kind == "doses":
        items = reader.table_list("doses")
        if not items:
            raise reader.fail("doses", "list the doses required ([[satisfied_by.doses]]).")
        doses = tuple(_dose(item) for item in items)
        if reader.integer("by_age_months", 1) is None:
            raise ResourceError(f"{reader.path}: key '{reader.key('by_age_months')}' is missing.")

    return Satisfier(
        kind=kind,
        valueset=reader.valueset("valueset") if "valueset" in groups else None,
        lookback_months=lookback,
        season=season,
        ever=ever,
        age_min=reader.integer("age_min"),
        age_max=reader.integer("age_max"),
        classes=_classes(reader) if "classes" in groups else (),
        within_days=reader.integer("within_days", 1),
        components=components,
        same_day=same_day,
        by_age_months=reader.integer("by_age_months", 1),
        doses=doses,
        exclude_settings=settings,
        as_empanelment=as_empanelment,
    )


def _dose(reader: _Reader) -> DoseRequirement:
    reader.check_keys({"label", "valueset", "count", "or", "min_age_days", "min_age_months"})
    count = reader.integer("count", 1)
    if count is None:
        raise ResourceError(f"{reader.path}: key '{reader.key('count')}' is missing.")
    vs = reader.valueset("valueset")
    assert vs is not None
    options = [(vs, count)]
    for alt in reader.table_list("or"):
        alt.check_keys({"valueset", "count"})
        alt_count = alt.integer("count", 1)
        if alt_count is None:
            raise ResourceError(f"{alt.path}: key '{alt.key('count')}' is missing.")
        alt_vs = alt.valueset("valueset")
        assert alt_vs is not None
        options.append((alt_vs, alt_count))
    return DoseRequirement(
        label=reader.text("label") or vs.title,
        options=tuple(options),
        min_age_days=reader.integer("min_age_days") or 0,
        min_age_months=reader.integer("min_age_months") or 0,
    )


_TOP_KEYS = {
    "id",
    "title",
    "letter_phrase",
    "description",
    "inverse",
    "order",
    "source",
    "eligible",
    "exclusions",
    "satisfied_by",
    "staff_terms",
}


def parse_measure(path: Path, valuesets: Mapping[str, ValueSet]) -> MeasureDefinition:
    """One measure file; raises ResourceError naming the file and key."""
    data = load_toml(path)
    top = _Reader(path, data, "", valuesets)
    top.check_keys(_TOP_KEYS)
    measure_id = top.text("id", required=True)
    assert measure_id is not None
    if not all(ch.isalnum() or ch in "-_" for ch in measure_id):
        raise top.fail("id", "use letters, digits and dashes only (it is stored with every result).")
    source_reader = top.sub("source", data.get("source", {}))
    source_reader.check_keys({"ecqm", "version", "guideline", "url", "notes"})
    source = MeasureSource(
        ecqm=source_reader.text("ecqm"),
        version=source_reader.text("version"),
        guideline=source_reader.text("guideline"),
        url=source_reader.text("url"),
        notes=source_reader.text("notes"),
    )
    if not source.ecqm and not source.guideline:
        raise ResourceError(f"{path}: key 'source' must cite an eCQM (ecqm, version) or a guideline.")
    if source.ecqm and not source.version:
        raise ResourceError(f"{path}: key 'source.version' is missing (the eCQM version this file follows).")
    title = top.text("title", required=True) or ""
    letter_phrase = top.text("letter_phrase", required=True) or ""
    eligible = _eligibility(top.sub("eligible", data.get("eligible", {})))
    exclusions = tuple(_exclusion(r) for r in top.table_list("exclusions"))
    satisfiers = tuple(_satisfier(r) for r in top.table_list("satisfied_by"))
    if not satisfiers:
        raise ResourceError(f"{path}: key 'satisfied_by' is missing: say what closes the gap.")
    terms = top.sub("staff_terms", data.get("staff_terms", {}))
    terms.check_keys({"met", "failed", "missing"})
    staff_terms = StaffTerms(met=terms.text("met"), failed=terms.text("failed"), missing=terms.text("missing"))
    return MeasureDefinition(
        id=measure_id,
        title=title,
        letter_phrase=letter_phrase,
        description=top.text("description") or "",
        inverse=top.flag("inverse"),
        order=top.integer("order") or 1000,
        source=source,
        eligible=eligible,
        exclusions=exclusions,
        satisfied_by=satisfiers,
        staff_terms=staff_terms,
        path=path,
    )


def load_measures(resources_dir_: Path | str | None = None) -> tuple[list[MeasureDefinition], list[str]]:
    """Every measure in ``<resources>/measures``, and a message per file that failed to load.

    ``resources_dir_`` defaults to the practice's resources folder. Broken value sets
    and broken measures are reported and skipped; everything else loads.
    """
    base = Path(resources_dir_) if resources_dir_ is not None else resources_dir()
    valuesets, errors = load_valuesets(base)
    measures: list[MeasureDefinition] = []
    seen: dict[str, Path] = {}
    for path in sorted((base / "measures").glob("*.toml")):
        try:
            measure = parse_measure(path, valuesets)
        except ResourceError as exc:
            errors.append(str(exc))
            continue
        if measure.id in seen:
            errors.append(f"{path}: key 'id': '{measure.id}' is already used by {seen[measure.id]}.")
            continue
        seen[measure.id] = path
        measures.append(measure)
    measures.sort(key=lambda m: (m.order, m.id))
    return measures, errors


def definitions_fingerprint(resources_dir_: Path | str | None = None) -> str:
    """A hash of every measure and value set file: cached results are stale when it changes."""
    base = Path(resources_dir_) if resources_dir_ is not None else resources_dir()
    digest = hashlib.sha256()
    for folder in ("measures", "valuesets"):
        for path in sorted((base / folder).glob("*.toml")):
            digest.update(f"{folder}/{path.name}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]
