"""The registry schema in one readable place: SQLAlchemy 2.0 typed ORM models.

Every table that importers fill carries the natural key it was matched on
(``source`` + ``external_id`` for records that have an identifier in the source
system, ``source`` + ``natural_key`` for events that do not) and a ``row_hash`` of
the imported values, so a re-import can tell new, updated and unchanged rows apart
set-wise without loading ORM objects.

Changing this file means writing an Alembic migration in ``migrations/versions``;
``tests/core/test_migrations.py`` fails when the two disagree.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Stable constraint names so Alembic migrations work the same on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here maps one real Table (no joins or selects): saying so lets the type
    # checker accept `Model.__table__` where Core insert/update/delete want a Table.
    __table__: ClassVar[Table]


class PatientStatus(str, enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DECEASED = "deceased"
    MOVED = "moved"


class VisitStatus(str, enum.Enum):
    SCHEDULED = "scheduled"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    NO_SHOW = "no-show"
    CANCELLED = "cancelled"


class VisitClass(str, enum.Enum):
    """Normalised encounter class; the assignment engine counts only primary-care kinds."""

    WELLNESS = "wellness"
    AMBULATORY = "ambulatory"
    OUTPATIENT = "outpatient"
    EMERGENCY = "emergency"
    INPATIENT = "inpatient"
    URGENT_CARE = "urgentcare"
    VIRTUAL = "virtual"
    OTHER = "other"


# --------------------------------------------------------------------------- people/places


class Provider(Base):
    __tablename__ = "providers"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    npi: Mapped[str | None] = mapped_column(String(10), index=True)
    first_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80))
    display_name: Mapped[str] = mapped_column(String(200))
    credentials: Mapped[str | None] = mapped_column(String(40))
    specialty: Mapped[str | None] = mapped_column(String(120))
    # None means "decide from the specialty" (core.empanelment's defaults); True/False
    # is a practice setting that overrides it.
    can_hold_panel: Mapped[bool | None] = mapped_column(Boolean)
    fte: Mapped[float] = mapped_column(Float, default=1.0)
    clinic_days_per_year: Mapped[float | None] = mapped_column(Float)
    visits_per_day: Mapped[float | None] = mapped_column(Float)
    panel_open: Mapped[bool] = mapped_column(Boolean, default=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    row_hash: Mapped[int | None] = mapped_column(BigInteger)
    # Set when the practice merged this provider (typically a PM scheduler user name such as
    # GC_Klein_S) into another: its visits and panels moved there, and later imports of the
    # same source id land there too (core.provider_merge).
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))

    location: Mapped[Location | None] = relationship()


class Location(Base):
    __tablename__ = "locations"
    __table_args__ = (UniqueConstraint("source", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    phone: Mapped[str | None] = mapped_column(String(30))
    row_hash: Mapped[int | None] = mapped_column(BigInteger)


class Patient(Base):
    __tablename__ = "patients"
    # The search box scans this covering index, not the wide table (core.patients, issue 9).
    __table_args__ = (Index("ix_patients_search", "status", "search_name", "mrn", "last_name", "first_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(String(80), unique=True)
    first_name: Mapped[str | None] = mapped_column(String(80))
    middle_name: Mapped[str | None] = mapped_column(String(80))
    last_name: Mapped[str | None] = mapped_column(String(80), index=True)
    suffix: Mapped[str | None] = mapped_column(String(20))
    dob: Mapped[dt.date | None] = mapped_column(Date, index=True)
    sex: Mapped[str | None] = mapped_column(String(1))  # F, M, U (unknown / other)
    address1: Mapped[str | None] = mapped_column(String(200))
    address2: Mapped[str | None] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(80))
    state: Mapped[str | None] = mapped_column(String(40))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    phone_home: Mapped[str | None] = mapped_column(String(30))
    phone_mobile: Mapped[str | None] = mapped_column(String(30))
    phone_work: Mapped[str | None] = mapped_column(String(30))
    email: Mapped[str | None] = mapped_column(String(200))
    preferred_language: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12), default=PatientStatus.ACTIVE.value, index=True)
    deceased_date: Mapped[dt.date | None] = mapped_column(Date)
    # The PM system's own idea of the PCP, kept as imported; empanelment decides the panel.
    pm_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    source: Mapped[str] = mapped_column(String(40))
    row_hash: Mapped[int | None] = mapped_column(BigInteger)
    updated_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Folded copy of the name for the search box (core.search_keys): " nunez / maria".
    search_name: Mapped[str | None] = mapped_column(String(400))

    identifiers: Mapped[list[PatientIdentifier]] = relationship(back_populates="patient")


class PatientIdentifier(Base):
    """One identifier per source system (Synthea Id, athena patientid, OpenEMR pid...)."""

    __tablename__ = "patient_identifiers"
    __table_args__ = (UniqueConstraint("source", "identifier"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    source: Mapped[str] = mapped_column(String(40))
    identifier: Mapped[str] = mapped_column(String(80))

    patient: Mapped[Patient] = relationship(back_populates="identifiers")


# --------------------------------------------------------------------------- clinical events


class Visit(Base):
    """Past encounters and scheduled appointments in one table."""

    __tablename__ = "visits"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_visits_patient_id_start", "patient_id", "start"),
        Index("ix_visits_provider_id_start", "provider_id", "start"),
        Index("ix_visits_start", "start"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    location_id: Mapped[int | None] = mapped_column(ForeignKey("locations.id"))
    source: Mapped[str] = mapped_column(String(40))
    external_id: Mapped[str] = mapped_column(String(80))
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    end: Mapped[dt.datetime | None] = mapped_column(DateTime)
    visit_class: Mapped[str] = mapped_column(String(16), default=VisitClass.OTHER.value)
    visit_type: Mapped[str | None] = mapped_column(String(120))
    status: Mapped[str] = mapped_column(String(12), default=VisitStatus.COMPLETED.value)
    cancelled_date: Mapped[dt.date | None] = mapped_column(Date)
    reason_code: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(String(200))
    row_hash: Mapped[int | None] = mapped_column(BigInteger)


class _EventColumns:
    """Columns every imported clinical event carries (observations, immunizations...)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(40))
    # 64-bit hash of the event's identifying values plus its occurrence number among
    # identical rows in the file: Synthea events have no identifier of their own.
    natural_key: Mapped[int] = mapped_column(BigInteger)
    row_hash: Mapped[int | None] = mapped_column(BigInteger)


class Observation(_EventColumns, Base):
    __tablename__ = "observations"
    __table_args__ = (
        UniqueConstraint("source", "natural_key"),
        Index("ix_observations_patient_id_code", "patient_id", "code"),
        # No (code, date) index (migration 0017_obs_code_date): every code-led look-up reads the
        # covering ix_observations_gap_lookup below, and building it cost 4.5 s of a 100,000-patient
        # import or demo load, and the longest write lock after a first import.
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    date: Mapped[dt.datetime] = mapped_column(DateTime)
    category: Mapped[str | None] = mapped_column(String(40))
    code_system: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(300))
    value: Mapped[str | None] = mapped_column(String(300))
    value_num: Mapped[float | None] = mapped_column(Float)
    unit: Mapped[str | None] = mapped_column(String(40))


class Immunization(_EventColumns, Base):
    __tablename__ = "immunizations"
    __table_args__ = (
        UniqueConstraint("source", "natural_key"),
        Index("ix_immunizations_patient_id_cvx", "patient_id", "cvx"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    date: Mapped[dt.datetime] = mapped_column(DateTime)
    cvx: Mapped[str] = mapped_column(String(10))
    description: Mapped[str | None] = mapped_column(String(300))


class Procedure(_EventColumns, Base):
    __tablename__ = "procedures"
    __table_args__ = (
        UniqueConstraint("source", "natural_key"),
        Index("ix_procedures_patient_id_code", "patient_id", "code"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    date: Mapped[dt.datetime] = mapped_column(DateTime)
    code_system: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(300))


class Condition(_EventColumns, Base):
    __tablename__ = "conditions"
    __table_args__ = (
        UniqueConstraint("source", "natural_key"),
        Index("ix_conditions_patient_id_code", "patient_id", "code"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    code_system: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(300))
    onset: Mapped[dt.date] = mapped_column(Date)
    resolved: Mapped[dt.date | None] = mapped_column(Date)


class Medication(_EventColumns, Base):
    __tablename__ = "medications"
    __table_args__ = (
        UniqueConstraint("source", "natural_key"),
        Index("ix_medications_patient_id_code", "patient_id", "code"),
    )

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    start: Mapped[dt.datetime] = mapped_column(DateTime)
    stop: Mapped[dt.datetime | None] = mapped_column(DateTime)
    code_system: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(40))
    description: Mapped[str | None] = mapped_column(String(300))


# --------------------------------------------------------------------------- import bookkeeping


class ImportBatch(Base):
    __tablename__ = "import_batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    file_name: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    format: Mapped[str] = mapped_column(String(40))
    profile: Mapped[str | None] = mapped_column(String(40))
    user: Mapped[str | None] = mapped_column(String(80))
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    outcome: Mapped[str] = mapped_column(String(20))  # committed, failed, cancelled
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    # Issue 16 (core.importers.skip): what the import was given, the change counter at its
    # commit and its row accounting, so an unchanged file imported again can be skipped.
    import_key: Mapped[str | None] = mapped_column(String(64))
    change_counter: Mapped[int | None] = mapped_column(Integer)
    summary: Mapped[str | None] = mapped_column(Text)

    rejected_rows: Mapped[list[RejectedRow]] = relationship(back_populates="batch")


class ImportPending(Base):
    """Rows of an import still being written (SQLite, issue 13; core.visibility).

    A first import commits its event rows (visits, observations...) in short batches so
    that check-in writes between them; until the import's final transaction deletes this
    table's row, every row of ``table_name`` with ``id >= from_id`` is hidden from every
    reader. An import killed part-way leaves its row here: its rows stay hidden and the
    next import deletes them (``owner`` says which process wrote them)."""

    __tablename__ = "import_pending"

    table_name: Mapped[str] = mapped_column(String(40), primary_key=True)
    from_id: Mapped[int] = mapped_column(BigInteger)
    owner: Mapped[str] = mapped_column(String(200))  # host:pid of the importing process
    started_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RejectedRow(Base):
    __tablename__ = "rejected_rows"

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("import_batches.id", ondelete="CASCADE"), index=True)
    file_name: Mapped[str] = mapped_column(String(500))
    source_row: Mapped[int] = mapped_column(Integer)  # 1-based line number in the file
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the row's original values as JSON

    batch: Mapped[ImportBatch] = relationship(back_populates="rejected_rows")


class Setting(Base):
    """Practice-wide settings (typed and versioned by core.settings)."""

    __tablename__ = "settings"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    # Bumped by every change (core.concurrency): a stale edit is refused, never applied.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


# Tables the empanelment, care-gap and outreach issues add are appended below, each in
# its own section and with its own migration.


# --------------------------------------------------------------------------- Empanelment (issue 3)
#
# One current assignment per patient (no row: unassigned), every change kept in
# assignment_history, engine runs kept as reviews whose items a manager accepts or
# rejects, and what providers and patients said about the assignment (confirmations,
# preferences). The rules live in core.empanelment; panel sizes in core.capacity.


class PanelReview(Base):
    """One run of the assignment engine: what it proposed and what the manager decided."""

    __tablename__ = "panel_reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    lookback_months: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[str | None] = mapped_column(String(80))
    # open (items pending), accepted, partly, rejected, superseded (a newer review replaced it)
    status: Mapped[str] = mapped_column(String(12), default="open", index=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    decided_by: Mapped[str | None] = mapped_column(String(80))
    n_new: Mapped[int] = mapped_column(Integer, default=0)
    n_change: Mapped[int] = mapped_column(Integer, default=0)
    n_drop: Mapped[int] = mapped_column(Integer, default=0)
    n_unassigned: Mapped[int] = mapped_column(Integer, default=0)
    n_unchanged: Mapped[int] = mapped_column(Integer, default=0)
    n_kept: Mapped[int] = mapped_column(Integer, default=0)


class PanelReviewItem(Base):
    """One proposal of a review: new assignment, change, drop, or "needs assignment"."""

    __tablename__ = "panel_review_items"
    # Decision first: "pending items of review N", "rejected proposals of any review".
    __table_args__ = (Index("ix_panel_review_items_decision_review_id", "decision", "review_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("panel_reviews.id", ondelete="CASCADE"))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # new, change, drop, unassigned
    old_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    new_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    cut: Mapped[str | None] = mapped_column(String(12))  # 1-4, preference
    reason: Mapped[str] = mapped_column(Text)
    # A change away from a confirmed assignment: accepting "all" keeps the assignment;
    # only accepting this item by itself changes it.
    held: Mapped[bool] = mapped_column(Boolean, default=False)
    # pending, accepted, rejected, kept, stale, superseded; "info" for unassigned items
    decision: Mapped[str] = mapped_column(String(12), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # Bumped by every change (core.concurrency): a stale edit is refused, never applied.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class Assignment(Base):
    """A patient's current panel: one row per assigned patient."""

    __tablename__ = "assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    cut: Mapped[str] = mapped_column(String(12))  # 1-4, preference, manual
    reason: Mapped[str] = mapped_column(Text)
    assigned_on: Mapped[dt.date] = mapped_column(Date)
    assigned_at: Mapped[dt.datetime] = mapped_column(DateTime)
    assigned_by: Mapped[str | None] = mapped_column(String(80))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("panel_reviews.id", ondelete="SET NULL"))
    # Latest confirmation of *this* provider; cleared when the provider changes.
    provider_confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    patient_confirmed_on: Mapped[dt.date | None] = mapped_column(Date)
    # Bumped by every change (core.concurrency): a stale edit is refused, never applied.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


class AssignmentHistory(Base):
    """Every change of a patient's panel: when, from, to, why, by whom."""

    __tablename__ = "assignment_history"
    __table_args__ = (Index("ix_assignment_history_patient_id_changed_at", "patient_id", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    from_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    to_provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    effective_on: Mapped[dt.date] = mapped_column(Date)
    cut: Mapped[str | None] = mapped_column(String(12))
    reason: Mapped[str] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(80))
    review_id: Mapped[int | None] = mapped_column(ForeignKey("panel_reviews.id", ondelete="SET NULL"), index=True)


class Confirmation(Base):
    """What a provider (mine / not-mine) or a patient (confirmed / changed / declined) said."""

    __tablename__ = "confirmations"
    __table_args__ = (Index("ix_confirmations_patient_id_recorded_at", "patient_id", "recorded_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    party: Mapped[str] = mapped_column(String(10))  # patient, provider
    outcome: Mapped[str] = mapped_column(String(12))  # confirmed, changed, declined, mine, not-mine
    reason: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str | None] = mapped_column(String(20))  # check-in, scheduling, phone, panel-list...
    user: Mapped[str | None] = mapped_column(String(80))
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)


class PatientPreference(Base):
    """The provider a patient asked for; it wins over the assignment engine."""

    __tablename__ = "patient_preferences"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"), unique=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    recorded_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    user: Mapped[str | None] = mapped_column(String(80))
    method: Mapped[str | None] = mapped_column(String(20))


# The assignment engine reads the look-back window's completed visits (status, start,
# class, provider, patient) from this index alone, without touching the table rows: at
# 100,000 patients that is the difference between ~0.5 s and ~4 s per run. Status comes
# first so that "status = completed AND start in the window" is one index range.
Index(
    "ix_visits_empanelment",
    Visit.status,
    Visit.start,
    Visit.visit_class,
    Visit.provider_id,
    Visit.patient_id,
)


# --------------------------------------------------------------------------- Care gaps and risk (issue 4)
#
# Measure results are a cache: core.measures evaluates every measure set-wise as of a
# date and stores the rows here, with a measure_runs row saying which data and which
# definitions they were computed from, so a reader can tell when they are stale (after
# an import, a demo load or an edited measure file). Risk scores are cached the same
# way; overrides are kept apart so a recomputation never loses a clinician's decision.


class MeasureRun(Base):
    """One computation of care gaps (kind "gaps") or risk tiers (kind "risk") for an as-of date."""

    __tablename__ = "measure_runs"
    __table_args__ = (UniqueConstraint("kind", "as_of"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(12))  # gaps, risk
    as_of: Mapped[dt.date] = mapped_column(Date)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # What the rows were computed from: registry content (import batches, row counts and
    # ids) and the measure/value-set files plus settings. A mismatch means stale.
    data_version: Mapped[str] = mapped_column(String(200))
    definitions_version: Mapped[str] = mapped_column(String(64))
    patients: Mapped[int] = mapped_column(Integer, default=0)
    rows: Mapped[int] = mapped_column(Integer, default=0)


class MeasureResult(Base):
    """One eligible patient x measure as of a date: status, due date and the deciding event."""

    __tablename__ = "measure_results"
    __table_args__ = (
        Index("ix_measure_results_as_of_measure_id_status", "as_of", "measure_id", "status"),
        Index("ix_measure_results_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    # No foreign key (migration 0014_gaps_nofk): this is a cache that every refresh replaces
    # wholesale, and with a foreign key SQLite checked each of ~570,000 rows against patients
    # and could not truncate the table. The application never deletes a patient (no cascade
    # is needed), and a refresh stores only patients that exist.
    patient_id: Mapped[int] = mapped_column(Integer)
    measure_id: Mapped[str] = mapped_column(String(80))
    status: Mapped[str] = mapped_column(String(12))  # open, due-soon, met, excluded
    due_date: Mapped[dt.date | None] = mapped_column(Date)
    last_date: Mapped[dt.date | None] = mapped_column(Date)
    last_code: Mapped[str | None] = mapped_column(String(80))
    last_value: Mapped[str | None] = mapped_column(String(300))
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RiskScore(Base):
    """A patient's computed risk as of a date: points, tier 1 (low) to 4 (complex), and why."""

    __tablename__ = "risk_scores"
    __table_args__ = (
        UniqueConstraint("as_of", "patient_id"),
        Index("ix_risk_scores_patient_id", "patient_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    score: Mapped[float] = mapped_column(Float)
    computed_tier: Mapped[int] = mapped_column(Integer)
    reasons: Mapped[str] = mapped_column(Text)
    computed_at: Mapped[dt.datetime] = mapped_column(DateTime)


class RiskOverride(Base):
    """A provider's or nurse's tier for a patient, with the reason; the computed tier is kept too."""

    __tablename__ = "risk_overrides"
    __table_args__ = (Index("ix_risk_overrides_patient_id_active", "patient_id", "active"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    tier: Mapped[int | None] = mapped_column(Integer)  # None: the override was cleared
    reason: Mapped[str] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(80))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped by every change (core.concurrency): a stale edit is refused, never applied.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")


# Covering indexes for the care-gap engine: its grouped look-ups (the latest event per
# patient and code, the latest completed visit per patient) read only these, in order.
Index(
    "ix_observations_gap_lookup",
    Observation.code,
    Observation.patient_id,
    Observation.date,
    Observation.value_num,
    Observation.value,
)
Index("ix_immunizations_gap_lookup", Immunization.cvx, Immunization.patient_id, Immunization.date)
# provider_id last (0012_gapsindex): "the latest visit with a panel provider" reads this alone.
Index("ix_visits_gap_lookup", Visit.status, Visit.patient_id, Visit.visit_class, Visit.start, Visit.provider_id)


# --------------------------------------------------------------------------- Outreach (issue 6)
#
# Every letter printed, label made, call recorded or export written: one row per patient
# and gap (measure_id is empty for outreach not about one gap). Rows written together by
# one document share a ``batch`` reference; core.outreach reads them back to keep
# recently contacted patients off new lists and to report which outreach closed gaps.


class OutreachMethod(str, enum.Enum):
    LETTER = "letter"
    CALL = "call"
    PORTAL = "portal"
    TEXT = "text"
    IN_PERSON = "in-person"


class OutreachOutcome(str, enum.Enum):
    REACHED = "reached"
    LEFT_MESSAGE = "left-message"
    SCHEDULED = "scheduled"
    DECLINED = "declined"
    WRONG_NUMBER = "wrong-number"
    NO_ANSWER = "no-answer"


class OutreachLog(Base):
    """One contact (or attempt) with a patient about a gap, by letter, call, portal, text or in person."""

    __tablename__ = "outreach_log"
    __table_args__ = (
        Index("ix_outreach_log_patient_id_logged_at", "patient_id", "logged_at"),
        Index("ix_outreach_log_measure_id_logged_at", "measure_id", "logged_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id", ondelete="CASCADE"))
    measure_id: Mapped[str | None] = mapped_column(String(80))
    method: Mapped[str] = mapped_column(String(12))  # OutreachMethod values
    outcome: Mapped[str | None] = mapped_column(String(16))  # OutreachOutcome values; empty for mail
    note: Mapped[str | None] = mapped_column(Text)
    user: Mapped[str | None] = mapped_column(String(80))
    logged_at: Mapped[dt.datetime] = mapped_column(DateTime)
    # What produced the row: letter, labels, call-list, portal-export, text-export, or
    # empty for a contact recorded by hand; and the print run it belongs to.
    document: Mapped[str | None] = mapped_column(String(40))
    batch: Mapped[str | None] = mapped_column(String(40), index=True)
    # A batch logged by mistake is withdrawn, never deleted: who withdrew it and when.
    withdrawn_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    withdrawn_by: Mapped[str | None] = mapped_column(String(80))


def _register_search_keys() -> None:
    from panelmanager.core.search_keys import register_orm_events

    register_orm_events(Patient)


_register_search_keys()


# --------------------------------------------------------------------------- Concurrency (issue 13)


class RegistryChange(Base):
    """One row: bumped by every write service (serializing them) and polled by other workstations."""

    __tablename__ = "registry_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    counter: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    # The audit chain's head (core.audit, issue 14): the last entry's seq and hash, so a removed
    # tail shows. Kept in this row, which every write service has already written (begin_write),
    # so an audited action writes no page for it (migration 0013_auditlean).
    audit_seq: Mapped[int | None] = mapped_column(BigInteger)
    audit_hash: Mapped[str | None] = mapped_column(String(64))
    audit_at_max: Mapped[dt.datetime | None] = mapped_column(DateTime)  # the trail's newest ``at``


# --------------------------------------------------------------------------- Users and audit (issue 14)
#
# Each person logs in as themselves (core.auth); what a role may do is resources/permissions.toml
# (core.permissions); every login, view, search, change, print and export appends one row to the
# hash-chained audit trail (core.audit), which the database refuses to update or delete.


class UserRole(str, enum.Enum):
    FRONT_DESK = "front_desk"
    MA_NURSE = "ma_nurse"
    PROVIDER = "provider"
    MANAGER = "manager"
    ADMIN = "admin"


class User(Base):
    """A person who logs in. Never deleted: a disabled user keeps their history."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(80), unique=True)  # stored lower-case
    display_name: Mapped[str] = mapped_column(String(120))
    role: Mapped[str] = mapped_column(String(20))  # UserRole values
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))  # argon2id (PHC string)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A token for scheduled imports and scripts: only its SHA-256 is kept; revoked, never deleted."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime)
    created_by: Mapped[int | None] = mapped_column(Integer)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class AuditEntry(Base):
    """One audited event. Append-only: ``hash`` is the SHA-256 of the row's content and ``prev_hash``
    (core.audit); ``seq`` numbers the chain without gaps, so a deleted or inserted row shows."""

    __tablename__ = "audit_log"
    # seq is the key (SQLite: the rowid, so no index of its own) and an in-order append writes no
    # other B-tree: check-in must stay quick (tests/benchmarks/bench_audit.py, migrations
    # 0013_auditlean, 0015_audit_late). The Audit screen's date filter reads a seq range plus the
    # late entries, whose ``at`` alone is indexed (core.audit.list_entries).
    __table_args__ = (Index("ix_audit_log_late_at", "at", sqlite_where=text("late IS NOT NULL"),
                            postgresql_where=text("late IS NOT NULL")),)

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(DateTime)
    user_id: Mapped[int | None] = mapped_column(Integer)  # None: no one logged in (a failed login)
    user_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str | None] = mapped_column(String(20))
    workstation: Mapped[str | None] = mapped_column(String(120))
    action: Mapped[str] = mapped_column(String(40))
    # ",12,40,41," (ids, never names): a LIKE '%,12,%' finds a patient's rows.
    patient_ids: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(12))  # ok, refused, error, failed
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    emergency_reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)  # JSON, never PHI
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    # TRUE: appended with an ``at`` more than core.audit.LATE_AFTER before the newest ``at`` then in
    # the trail (a workstation clock behind); NULL otherwise. Derived, so not part of the hash.
    late: Mapped[bool | None] = mapped_column(Boolean)
