"""Care gaps: measure definitions (resources/measures), value sets, the engine and its cache.

The service functions the CLI, the GUI, the huddle sheet and letters call:

``load_measures(resources_dir=None) -> (list[MeasureDefinition], list[str])``
    Every measure that loads, and one message per broken file (naming file and key).
``evaluate_measures(session, as_of, *, measure_ids=None, patient_ids=None, due_soon_days=None, progress=, cancel=)``
    A DataFrame, one row per eligible patient and measure: patient_id, mrn, measure,
    status (open / due-soon / met / excluded), due_date, last_date, last_code, last_value.
    Computed now, not cached: the huddle passes today's ``patient_ids``.
``refresh_gaps(session, as_of, progress=, cancel=) -> GapRefresh``
    Evaluate everything and store it in the cache for ``as_of``.
``gaps(session, as_of, measure=None, provider=None, status=None)``
    The cached rows (refreshed when stale), with each patient's provider.
``measure_rates(session, as_of, by="provider" | "practice")``
    Numerator, denominator and rate per measure (and per provider panel).
``measure_source_data(session) -> {measure: SourceData}``
    Whether the registry holds any of the data each measure reads (no lab results
    imported at all, no vital signs...): clients say so instead of blaming patients.
``staff_status(measure, status, last_date, due_date)`` / ``staff_status_column(frame)``
    What staff read for a status ("A1c above 9", "No A1c this year", "A1c under control").
``patient_providers(session, as_of)``
    Who counts as each patient's provider (panel assignment, else the 4-cut proposal).
"""

from panelmanager.core.measures.definitions import MeasureDefinition, MeasureSource, load_measures
from panelmanager.core.measures.engine import RESULT_COLUMNS, STATUSES, evaluate_definitions, evaluate_measures
from panelmanager.core.measures.gaps import (
    GapRefresh,
    data_version,
    gaps,
    gaps_are_stale,
    measure_rates,
    patient_providers,
    refresh_gaps,
)
from panelmanager.core.measures.source_data import SourceData, absent_source_data, measure_source_data
from panelmanager.core.measures.valuesets import ValueSet, load_valuesets
from panelmanager.core.measures.wording import staff_status, staff_status_column

__all__ = [
    "GapRefresh",
    "MeasureDefinition",
    "MeasureSource",
    "RESULT_COLUMNS",
    "SourceData",
    "absent_source_data",
    "measure_source_data",
    "staff_status",
    "staff_status_column",
    "STATUSES",
    "ValueSet",
    "data_version",
    "evaluate_definitions",
    "evaluate_measures",
    "gaps",
    "gaps_are_stale",
    "load_measures",
    "load_valuesets",
    "measure_rates",
    "patient_providers",
    "refresh_gaps",
]
