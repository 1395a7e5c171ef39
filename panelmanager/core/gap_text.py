"""Short text for an open care gap on staff documents and screens: ``Flu shot: last 2023-10-02, due now``.

The short names come from ``resources/letters/gap_labels.toml``; a measure's own staff
terms (``core.measures.wording``) win over them.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panelmanager.core.people import clean_text, iso


@dataclass(frozen=True)
class GapLabel:
    short: str
    unit: str = ""
    value_prefix: str = ""


_LABEL_CACHE: dict[tuple, dict[str, GapLabel]] = {}


def load_gap_labels(path: str | os.PathLike[str] | None = None) -> dict[str, GapLabel]:
    """Short names of gaps for staff documents (``resources/letters/gap_labels.toml``), by measure id."""
    from panelmanager.core.resources import ResourceError, load_toml, resource_path

    file = Path(path) if path is not None else resource_path("letters", "gap_labels.toml")
    if not file.exists():
        return {}
    key = (str(file), file.stat().st_mtime_ns)
    cached = _LABEL_CACHE.get(key)
    if cached is not None:
        return cached
    data = load_toml(file)
    labels = {}
    for measure_id, entry in data.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("short"), str):
            raise ResourceError(f"{file}: [{measure_id}] needs short = \"...\" (the short name of the gap).")
        unknown = sorted(set(entry) - {"short", "unit", "value_prefix"})
        if unknown:
            raise ResourceError(
                f"{file}: [{measure_id}] unknown key '{unknown[0]}' (known: short, unit, value_prefix)."
            )
        labels[measure_id] = GapLabel(entry["short"], str(entry.get("unit", "")), str(entry.get("value_prefix", "")))
    _LABEL_CACHE.clear()
    _LABEL_CACHE[key] = labels
    return labels


def short_gap_text(
    measure_id: str,
    title: str,
    last_date: Any = None,
    last_value: Any = None,
    status: str = "open",
    due_date: Any = None,
    labels: dict[str, GapLabel] | None = None,
    *,
    as_of: dt.date | None = None,
) -> str:
    """Say which date is which: ``Flu shot: last 2023-10-02, due 2024-07-31``.

    ``Depression screen: last 2023-01-27 (score 3), due now``, ``Mammogram: none on record,
    due now``; a measure with staff terms speaks them (``A1c above 9: last 2023-08-14 (9.8%),
    due now``, ``No A1c this year``). An open gap is "due now" unless its due date is still
    ahead of ``as_of`` (a child's series is due by the second birthday); without ``as_of``
    the date is compared with today.
    """
    from panelmanager.core.measures.wording import finding, measure_wording

    label = (labels or {}).get(measure_id)
    name = label.short if label else title
    try:
        wording = measure_wording().get(measure_id)
    except Exception:  # a broken measure file: the plain wording still prints
        wording = None
    found = finding(wording, status, last_date, due_date)
    term = getattr(wording.terms, found) if (found and wording is not None) else None
    if term:
        name = term
    value = clean_text(last_value)
    if len(value) > 40:
        value = value[:39] + "…"
    if value:
        numeric = value[-1:].isdigit()
        unit = label.unit if label and numeric else ""
        prefix = label.value_prefix if label and numeric else ""
        value = f"{prefix}{value}{unit}"
    when = iso(last_date)
    if when:
        text = f"{name}: last {when}" + (f" ({value})" if value else "")
    elif value:
        text = f"{name}: {value}"
    elif term and found == "missing":
        text = name
    else:
        text = f"{name}: none on record"
    due = iso(due_date)
    if status == "open":
        today = as_of or dt.date.today()
        text += f", due {due}" if due and due > today.isoformat() else ", due now"
    elif status in ("due-soon", "met") and due:
        text += f", due {due}"
    return text
