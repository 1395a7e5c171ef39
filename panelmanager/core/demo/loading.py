"""Generating the whole practice and loading it into a registry (one transaction, refused over real data)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from panelmanager.core.db import RegistryError
from panelmanager.core.demo.practice import DemoPractice, _Generator
from panelmanager.core.demo.vocabulary import (
    SOURCE,
)
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress


def generate_practice(
    patients: int,
    *,
    seed: int = 1,
    as_of: dt.date,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> DemoPractice:
    """Generate the demo practice for ``patients`` patients as of ``as_of`` (deterministic)."""
    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    gen = _Generator(patients, seed, as_of)
    steps = [
        ("Generating locations and providers", lambda: (gen.locations(), gen.providers())),
        ("Generating patients", gen.patients),
        ("Generating conditions", gen.condition_flags),
        ("Generating visit histories", gen.visits),
        ("Generating appointments", gen.appointments),
        ("Generating vitals, labs and screenings", gen.observations),
        ("Generating procedures", gen.procedures),
        ("Generating immunizations", gen.immunizations),
        ("Generating conditions and medications", lambda: (gen.conditions(), gen.medications())),
    ]
    for index, (message, step) in enumerate(steps):
        cancel.raise_if_cancelled()
        progress(index, len(steps), message)
        step()
    visits = pd.concat([gen.visit_frame, gen.appointment_frame], ignore_index=True)
    frames = {
        "locations": gen.location_frame,
        "providers": gen.provider_frame,
        "patients": gen.patient_frame,
        "visits": visits,
        "observations": gen.observation_frame,
        "immunizations": gen.immunization_frame,
        "procedures": gen.procedure_frame,
        "conditions": gen.condition_frame,
        "medications": gen.medication_frame,
    }
    for frame in frames.values():
        frame["_row"] = np.arange(2, len(frame) + 2)
    progress(len(steps), len(steps), "Generated")
    return DemoPractice(patients_requested=patients, seed=seed, as_of=as_of, frames=frames)


# --------------------------------------------------------------------------- loading


_MARKER_KEY = "demo_practice"  # settings-table row recording which demo a registry holds


class DemoRefused(RegistryError):
    """The registry already holds data the demo practice must not be mixed with."""


def _check_registry(conn, wanted: dict) -> None:
    from sqlalchemy import func, select

    from panelmanager.core.models import Patient, Setting

    others = conn.execute(select(func.count()).select_from(Patient).where(Patient.source != SOURCE)).scalar() or 0
    if others:
        raise DemoRefused(
            f"This registry already holds {others:,} patients imported from the practice's own systems. "
            "The demo practice is invented data and is never mixed with real patients: load it into a "
            "registry of its own, e.g. `panelmanager --db demo.sqlite3 demo`."
        )
    marker = conn.execute(select(Setting.value).where(Setting.key == _MARKER_KEY)).scalar()
    if marker is not None and json.loads(marker) != wanted:
        held = json.loads(marker)
        raise DemoRefused(
            f"This registry already holds a different demo practice ({held.get('patients')} patients, seed "
            f"{held.get('seed')}, as of {held.get('as_of')}); two demos cannot share a registry. Load this one "
            "into a new registry (--db another.sqlite3)."
        )


def _save_marker(conn, wanted: dict) -> None:
    from sqlalchemy import delete, insert

    from panelmanager.core.models import Setting

    conn.execute(delete(Setting).where(Setting.key == _MARKER_KEY))
    conn.execute(insert(Setting).values(key=_MARKER_KEY, value=json.dumps(wanted, sort_keys=True)))


def load_demo(
    registry,
    *,
    patients: int,
    seed: int = 1,
    as_of: dt.date,
    progress: Progress = no_progress,
    cancel: CancelToken = NEVER_CANCELLED,
) -> dict[str, int]:
    """Generate the demo practice and write it into ``registry`` in one transaction.

    Returns how many rows of each kind were added; loading the same practice again adds
    nothing. Raises ``DemoRefused`` (a ``RegistryError``) when the registry holds real
    patients or a different demo practice, and ``Cancelled`` (nothing written) when
    ``cancel`` is set.
    """
    from panelmanager.core.importers.bulkload import bulk_load_settings
    from panelmanager.core.importers.writer import ParsedImport, write_parsed
    from panelmanager.core.settings import PracticeSettings, load_settings, save_settings

    progress = progress or no_progress
    cancel = cancel or NEVER_CANCELLED
    wanted = {"patients": int(patients), "seed": int(seed), "as_of": as_of.isoformat()}
    with registry.engine.connect() as conn:
        _check_registry(conn, wanted)

    def generating(done: int, total: int, message: str = "") -> None:
        progress(int(40 * done / max(total, 1)), 100, message)

    def writing(done: int, total: int, message: str = "") -> None:
        progress(40 + int(60 * done / max(total, 1)), 100, message)

    practice = generate_practice(patients, seed=seed, as_of=as_of, progress=generating, cancel=cancel)
    parsed = ParsedImport(
        path=f"demo:{patients}:{seed}:{as_of.isoformat()}",
        format="demo",
        profile=None,
        source=SOURCE,
        rows_read=sum(len(f) for f in practice.frames.values()),
        frames=practice.frames,
    )
    del practice
    # The import's bulk-load connection settings (SQLite: foreign-key checks off, a larger page
    # cache): the demo is written by the importers' own writer, which resolves every reference
    # itself, exactly as an import of the same rows (core.importers.bulkload says why).
    with registry.engine.connect() as conn, bulk_load_settings(conn):
        with conn.begin():
            _check_registry(conn, wanted)  # again, inside the transaction that writes
            result = write_parsed(conn, parsed, progress=writing, cancel=cancel)
            _save_marker(conn, wanted)
            cancel.raise_if_cancelled()
    with registry.session() as session:
        settings = load_settings(session)
        if settings.practice_name == PracticeSettings().practice_name:
            settings.practice_name = "Riverside Community Health (demo)"
            settings.practice_address = "1 Main St, Springfield, MA 01103"
            settings.practice_phone = "(413) 555-0100"
            save_settings(session, settings)
    progress(100, 100, "Demo practice loaded")
    names = ["patients", "providers", "locations", "visits", "observations", "immunizations", "procedures",
             "conditions", "medications"]
    return {name: result.tables[name].new if name in result.tables else 0 for name in names}
