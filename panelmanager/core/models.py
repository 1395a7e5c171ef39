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
    Text,
    UniqueConstraint,
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
        Index("ix_observations_code_date", "code", "date"),
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

    rejected_rows: Mapped[list[RejectedRow]] = relationship(back_populates="batch")


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


# Tables the empanelment, care-gap and outreach issues add are appended below, each in
# its own section and with its own migration.
