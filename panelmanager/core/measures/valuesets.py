"""Value sets: named lists of codes (LOINC, SNOMED CT, CPT, HCPCS, CVX, ICD-10-CM, RxNorm).

Each file in ``resources/valuesets/`` is one value set, named by its file stem
(``colonoscopy.toml`` is the value set ``colonoscopy``)::

    title = "Colonoscopy"
    oid = "2.16.840.1.113883.3.464.1003.108.12.1020"
    source = "VSAC Colonoscopy value set, eCQM Update 2025-05-08 (subset: codes practices send)"

    [codes]
    CPT = ["45378", "45380"]          # codes, per code system
    SNOMED = ["73761001"]

    [prefixes]
    ICD10CM = ["C18"]                 # every code that starts with these (ICD-10-CM only)

    includes = ["another-value-set"]  # optional: the codes of other value sets too

Events match on their code, whatever code system they were labelled with: exports
label systems inconsistently (HCPCS codes arrive as "CPT", systems are blank), while
the codes of different systems practically never collide (LOINC has a dash, SNOMED
CT ids have 6 or more digits, CPT 5 characters, CVX 1-3 digits, and each table holds
one kind of event). Matching is forgiving where real exports differ from the standard
spelling: ICD-10-CM codes match with or without the dot (``E11.9`` = ``E119``) and CVX
codes with or without a leading zero (``08`` = ``8``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import ColumnElement, false, or_

from panelmanager.core.resources import ResourceError, load_toml, resources_dir

__all__ = [
    "CODE_SYSTEMS",
    "ValueSet",
    "load_valuesets",
    "normalize_code",
]

# Canonical names, and the spellings files and importers use for them.
CODE_SYSTEMS = ("LOINC", "SNOMED", "CPT", "HCPCS", "CVX", "ICD10CM", "RXNORM")
_SYSTEM_ALIASES = {
    "LOINC": "LOINC",
    "HTTP://LOINC.ORG": "LOINC",
    "SNOMED": "SNOMED",
    "SNOMEDCT": "SNOMED",
    "SNOMED-CT": "SNOMED",
    "SNOMED CT": "SNOMED",
    "SNOMEDCT_US": "SNOMED",
    "SCT": "SNOMED",
    "HTTP://SNOMED.INFO/SCT": "SNOMED",
    "CPT": "CPT",
    "CPT4": "CPT",
    "CPT-4": "CPT",
    "HTTP://WWW.AMA-ASSN.ORG/GO/CPT": "CPT",
    "HCPCS": "HCPCS",
    "HCPCSLEVELII": "HCPCS",
    "HCPCS LEVEL II": "HCPCS",
    "HTTPS://WWW.CMS.GOV/MEDICARE/CODING/HCPCSRELEASECODESETS": "HCPCS",
    "CVX": "CVX",
    "HTTP://HL7.ORG/FHIR/SID/CVX": "CVX",
    "ICD10CM": "ICD10CM",
    "ICD-10-CM": "ICD10CM",
    "ICD10": "ICD10CM",
    "ICD-10": "ICD10CM",
    "HTTP://HL7.ORG/FHIR/SID/ICD-10-CM": "ICD10CM",
    "RXNORM": "RXNORM",
    "HTTP://WWW.NLM.NIH.GOV/RESEARCH/UMLS/RXNORM": "RXNORM",
}

_KNOWN_KEYS = {"id", "title", "oid", "source", "url", "notes", "codes", "prefixes", "includes"}


def normalize_code(code: str, system: str = "") -> str:
    """The form codes are compared in: no dots for ICD-10-CM, no leading zeros for CVX."""
    text = str(code).strip().upper()
    if system == "ICD10CM":
        return text.replace(".", "")
    if system == "CVX":
        return text.lstrip("0") or "0"
    return text


@dataclass
class ValueSet:
    """A named set of codes; ``codes`` maps canonical system -> normalized codes."""

    id: str
    title: str
    path: Path | None = None
    oid: str | None = None
    source: str = ""
    codes: dict[str, set[str]] = field(default_factory=dict)
    prefixes: dict[str, set[str]] = field(default_factory=dict)
    includes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------------ building

    def merged_with(self, others: Iterable[ValueSet]) -> ValueSet:
        """This value set with the codes of ``others`` added (resolving ``includes``)."""
        codes = {s: set(c) for s, c in self.codes.items()}
        prefixes = {s: set(c) for s, c in self.prefixes.items()}
        for other in others:
            for system, values in other.codes.items():
                codes.setdefault(system, set()).update(values)
            for system, values in other.prefixes.items():
                prefixes.setdefault(system, set()).update(values)
        return ValueSet(self.id, self.title, self.path, self.oid, self.source, codes, prefixes, list(self.includes))

    @property
    def systems(self) -> set[str]:
        return set(self.codes) | set(self.prefixes)

    def __len__(self) -> int:
        return sum(len(v) for v in self.codes.values())

    # ------------------------------------------------------------------ matching

    def spellings(self, system: str | None = None) -> tuple[set[str], set[str]]:
        """(exact spellings, LIKE prefixes) an event table may hold for this value set's codes."""
        literals: set[str] = set()
        likes: set[str] = set()
        for sys_name, values in self.codes.items():
            if system and sys_name != system:
                continue
            for code in values:
                literals.update(_spellings(code, sys_name))
        for sys_name, values in self.prefixes.items():
            if system and sys_name != system:
                continue
            for prefix in values:
                likes.update(_spellings(prefix, sys_name, prefix=True))
        return literals, likes

    def sql_filter(self, column, system: str | None = None) -> ColumnElement[bool]:
        """A WHERE clause selecting candidate rows: every spelling of every code.

        Deliberately a superset (it ignores the code system); ``match`` makes the final
        decision on the rows this selects. ``system`` restricts to one system's codes
        (used for tables that hold one system only, such as immunizations' CVX).
        """
        literals, likes = self.spellings(system)
        clauses: list[ColumnElement[bool]] = []
        if literals:
            clauses.append(column.in_(sorted(literals)))
        clauses.extend(column.like(f"{p}%") for p in sorted(likes))
        if not clauses:
            return false()
        return or_(*clauses)

    def contains(self, codes: pd.Series) -> pd.Series:
        """A boolean mask: which codes belong to this value set, whatever their code system.

        The engine selects rows with ``sql_filter`` and uses this to tell the value sets
        of one query apart; codes of different systems practically never collide.
        """
        text = codes.astype(object).where(codes.notna(), "").astype(str).str.strip().str.upper()
        flat = set().union(*self.codes.values()) if self.codes else set()
        nodot = text.str.replace(".", "", regex=False)
        hit = text.isin(flat) | nodot.isin(flat)
        if "CVX" in self.codes:
            hit |= text.str.lstrip("0").isin(self.codes["CVX"])
        for values in self.prefixes.values():
            for prefix in values:
                hit |= nodot.str.startswith(prefix)
        return hit.astype(bool)

def _spellings(code: str, system: str, prefix: bool = False) -> set[str]:
    """The raw spellings an event table may hold for a normalized code."""
    if system == "ICD10CM":
        dotted = code if len(code) <= 3 else f"{code[:3]}.{code[3:]}"
        return {code, dotted}
    if system == "CVX":
        if prefix:
            return {code}
        return {code, code.zfill(2), code.zfill(3)}
    return {code}


# --------------------------------------------------------------------------- loading


def _parse_valueset(path: Path) -> ValueSet:
    data = load_toml(path)
    unknown = sorted(set(data) - _KNOWN_KEYS)
    if unknown:
        raise ResourceError(f"{path}: unknown key '{unknown[0]}' (known keys: {', '.join(sorted(_KNOWN_KEYS))}).")
    vs_id = path.stem
    if "id" in data and data["id"] != vs_id:
        raise ResourceError(f"{path}: key 'id' is '{data['id']}' but a value set's id is its file name ('{vs_id}').")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ResourceError(f"{path}: key 'title' is missing; give the value set a name staff will recognise.")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ResourceError(f"{path}: key 'source' is missing; cite where the codes come from (VSAC OID, CDC CVX...).")
    codes: dict[str, set[str]] = {}
    prefixes: dict[str, set[str]] = {}
    for key, target in (("codes", codes), ("prefixes", prefixes)):
        table = data.get(key, {})
        if not isinstance(table, dict):
            raise ResourceError(f"{path}: key '{key}' must be a table of code systems, e.g. [{key}] LOINC = [...].")
        for system_name, values in table.items():
            system = _SYSTEM_ALIASES.get(str(system_name).strip().upper())
            if system is None:
                raise ResourceError(
                    f"{path}: key '{key}.{system_name}': unknown code system (use one of {', '.join(CODE_SYSTEMS)})."
                )
            if key == "prefixes" and system != "ICD10CM":
                raise ResourceError(f"{path}: key 'prefixes.{system_name}': prefixes are allowed for ICD10CM only.")
            if not isinstance(values, list) or not all(isinstance(v, str) and v.strip() for v in values):
                raise ResourceError(f"{path}: key '{key}.{system_name}' must be a list of codes written as strings.")
            target.setdefault(system, set()).update(normalize_code(v, system) for v in values)
    includes = data.get("includes", [])
    if not isinstance(includes, list) or not all(isinstance(v, str) for v in includes):
        raise ResourceError(f"{path}: key 'includes' must be a list of value set names.")
    if not codes and not prefixes and not includes:
        raise ResourceError(f"{path}: the value set has no codes ([codes], [prefixes] or includes).")
    return ValueSet(
        id=vs_id,
        title=title.strip(),
        path=path,
        oid=data.get("oid"),
        source=source.strip(),
        codes=codes,
        prefixes=prefixes,
        includes=list(includes),
    )


def load_valuesets(resources: Path | None = None) -> tuple[dict[str, ValueSet], list[str]]:
    """Every value set in ``<resources>/valuesets``, with ``includes`` resolved.

    A broken file is reported (its message names the file and key) and left out; the
    others still load. A value set including a missing or broken one is left out too.
    """
    folder = (resources or resources_dir()) / "valuesets"
    errors: list[str] = []
    parsed: dict[str, ValueSet] = {}
    for path in sorted(folder.glob("*.toml")):
        try:
            parsed[path.stem] = _parse_valueset(path)
        except ResourceError as exc:
            errors.append(str(exc))
    resolved: dict[str, ValueSet] = {}

    def resolve(vs_id: str, trail: tuple[str, ...]) -> ValueSet | None:
        if vs_id in resolved:
            return resolved[vs_id]
        vs = parsed.get(vs_id)
        if vs is None:
            return None
        others = []
        for name in vs.includes:
            if name in trail:
                errors.append(f"{vs.path}: key 'includes': '{name}' includes '{vs_id}' back (a loop).")
                return None
            other = resolve(name, (*trail, name))
            if other is None:
                if name not in parsed:
                    errors.append(f"{vs.path}: key 'includes': no value set named '{name}' in {folder}.")
                return None
            others.append(other)
        resolved[vs_id] = vs.merged_with(others)
        return resolved[vs_id]

    for vs_id in parsed:
        resolve(vs_id, (vs_id,))
    return resolved, errors
