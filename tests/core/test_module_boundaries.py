"""Module boundaries of the core (issue 11): what may import what, and the new homes of shared rules.

- ``core/reports`` is the PDF package: no other core module imports it, except the
  services whose job is to write a document (``outreach_run``), and nothing it imports imports
  it back (no cycle).
- ``core/empanelment`` is a package; every name callers use is importable from it.
- One date parser, and it takes the as-of date it needs instead of asking for today.
"""

from __future__ import annotations

import ast
import datetime as dt
from pathlib import Path

import pytest

import panelmanager.core
from panelmanager.core import empanelment
from panelmanager.core.people import date_readings, parse_date_text, sorted_name

CORE = Path(panelmanager.core.__file__).parent
REPORTS = "panelmanager.core.reports"
# Core modules outside core/reports that may call a PDF writer because writing documents is their job.
DOCUMENT_WRITERS: set[str] = {
    "panelmanager.core.outreach_run",  # letters, labels, call lists: run_outreach
    "panelmanager.core.printing",  # huddle sheet, panel list: print_huddle_sheet, print_panel_list (issue 14)
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every panelmanager module a file imports, at the top or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("panelmanager"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("panelmanager"))
    return found


def _core_modules() -> dict[str, Path]:
    return {
        _module_name(p): p
        for p in CORE.rglob("*.py")
        if "migrations" not in p.parts
    }


def test_no_core_module_outside_reports_imports_the_pdf_package():
    offenders = {
        name: sorted(i for i in _imports(path) if i == REPORTS or i.startswith(REPORTS + "."))
        for name, path in _core_modules().items()
        if not name.startswith(REPORTS) and name not in DOCUMENT_WRITERS
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_nothing_the_pdf_package_imports_imports_it_back():
    modules = _core_modules()
    graph = {name: {i for i in _imports(path) if i in modules} for name, path in modules.items()}
    outside = {i for name in graph if name.startswith(REPORTS) for i in graph[name] if not i.startswith(REPORTS)}
    seen, stack = set(), list(outside)
    while stack:  # everything reachable from what reports imports
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        stack.extend(graph.get(name, ()))
    assert not {n for n in seen if n.startswith(REPORTS)}


def test_empanelment_is_a_package_of_small_modules_with_one_public_face():
    package = CORE / "empanelment"
    assert package.is_dir() and not (CORE / "empanelment.py").exists()
    sizes = {p.name: len(p.read_text(encoding="utf-8").splitlines()) for p in package.glob("*.py")}
    assert max(sizes.values()) < 800, sizes
    for name in empanelment.__all__:
        assert hasattr(empanelment, name), name


def test_a_two_digit_year_is_read_against_the_as_of_date_not_today():
    # The same text means different birth dates depending on the day it is asked.
    assert parse_date_text("01/02/20", as_of=dt.date(2026, 1, 1)) == dt.date(2020, 1, 2)
    assert parse_date_text("01/02/20", as_of=dt.date(2019, 12, 31)) == dt.date(1920, 1, 2)
    assert parse_date_text("03/04/56", as_of=dt.date(2024, 2, 3)) == dt.date(1956, 3, 4)
    assert parse_date_text("03/04/56", as_of=None, past=False) == dt.date(2056, 3, 4)
    assert date_readings("03/04/56") == (dt.date(2056, 3, 4), dt.date(1956, 3, 4))
    assert parse_date_text("Mar 4 1956") == dt.date(1956, 3, 4)  # four digits: no as_of needed
    with pytest.raises(ValueError, match="as_of"):
        parse_date_text("03/04/56")


def test_one_name_sort_for_lists():
    assert sorted_name("María", "García") == "García, María"
    assert sorted_name("Ann", "Lee", "Jo") == "Lee, Ann J."
    assert sorted_name(None, "Lee") == "Lee"
    assert sorted_name(" ", None) == "(no name)"


def test_searching_a_two_digit_year_uses_the_as_of_date(fresh_registry):
    import pandas as pd

    from panelmanager.core.db import bulk_insert
    from panelmanager.core.models import Patient
    from panelmanager.core.patients import search_patient_ids
    from panelmanager.core.search_keys import refresh_search_keys

    people = pd.DataFrame(
        [("OLD", "Ada", "Old", dt.date(1920, 1, 2), "active"), ("NEW", "Bea", "New", dt.date(2020, 1, 2), "active")],
        columns=["mrn", "first_name", "last_name", "dob", "status"],
    ).assign(source="test")
    with fresh_registry.engine.begin() as conn:
        bulk_insert(conn, Patient.__table__, people)
        refresh_search_keys(conn)
    with fresh_registry.session() as session:
        def mrns(**options):
            ids = search_patient_ids(session, "01/02/20", **options)
            return sorted(session.get(Patient, i).mrn for i in ids)

        assert mrns(as_of=dt.date(2024, 2, 3)) == ["NEW"]
        assert mrns(as_of=dt.date(2019, 6, 1)) == ["OLD"]  # a reprint of an old search: 2020 was still ahead
        assert mrns() == ["NEW", "OLD"]  # no as_of: both centuries, nobody is guessed away
