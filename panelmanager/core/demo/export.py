"""The demo practice written as a Synthea CSV folder and athenahealth CSVs (for the import benchmark)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from panelmanager.core.demo.practice import DemoPractice
from panelmanager.core.demo.vocabulary import (
    CPT,
    _where,
)

# --------------------------------------------------------------------------- export for benchmarks

_SYNTHEA_HEADERS = {
    "organizations.csv": ["Id", "NAME", "ADDRESS", "CITY", "STATE", "ZIP", "LAT", "LON", "PHONE", "REVENUE", "UTILIZATION"],
    "providers.csv": ["Id", "ORGANIZATION", "NAME", "GENDER", "SPECIALITY", "ADDRESS", "CITY", "STATE", "ZIP", "LAT",
                      "LON", "UTILIZATION"],
    "patients.csv": ["Id", "BIRTHDATE", "DEATHDATE", "SSN", "DRIVERS", "PASSPORT", "PREFIX", "FIRST", "LAST", "SUFFIX",
                     "MAIDEN", "MARITAL", "RACE", "ETHNICITY", "GENDER", "BIRTHPLACE", "ADDRESS", "CITY", "STATE",
                     "COUNTY", "ZIP", "LAT", "LON", "HEALTHCARE_EXPENSES", "HEALTHCARE_COVERAGE"],
    "encounters.csv": ["Id", "START", "STOP", "PATIENT", "ORGANIZATION", "PROVIDER", "PAYER", "ENCOUNTERCLASS", "CODE",
                       "DESCRIPTION", "BASE_ENCOUNTER_COST", "TOTAL_CLAIM_COST", "PAYER_COVERAGE", "REASONCODE",
                       "REASONDESCRIPTION"],
    "observations.csv": ["DATE", "PATIENT", "ENCOUNTER", "CATEGORY", "CODE", "DESCRIPTION", "VALUE", "UNITS", "TYPE"],
    "immunizations.csv": ["DATE", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST"],
    "procedures.csv": ["START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST", "REASONCODE",
                       "REASONDESCRIPTION"],
    "conditions.csv": ["START", "STOP", "PATIENT", "ENCOUNTER", "CODE", "DESCRIPTION"],
    "medications.csv": ["START", "STOP", "PATIENT", "PAYER", "ENCOUNTER", "CODE", "DESCRIPTION", "BASE_COST",
                        "PAYER_COVERAGE", "DISPENSES", "TOTALCOST", "REASONCODE", "REASONDESCRIPTION"],
}
# Synthea's encounter codes (SNOMED) by class.
_ENCOUNTER_CODES = {
    "wellness": ("410620009", "Well child visit (procedure)"),
    "ambulatory": ("185345009", "Encounter for symptom (procedure)"),
    "outpatient": ("185349003", "Encounter for check up (procedure)"),
    "virtual": ("185317003", "Telephone encounter (procedure)"),
    "urgentcare": ("702927004", "Urgent care clinic (environment)"),
    "emergency": ("50849002", "Emergency room admission (procedure)"),
    "inpatient": ("32485007", "Hospital admission (procedure)"),
}
# The old Synthea layout has no SYSTEM column: CPT-coded procedures go out as their SNOMED twins.
_CPT_TO_SNOMED = {"45378": ("73761001", "Colonoscopy (procedure)"), "77067": ("71651007", "Mammography (procedure)"),
                  "88175": ("90226004", "Cytopathology procedure, preparation of smear, genital source (procedure)")}
_HOSPITAL = ("DLH01", "Mercy Regional Hospital", "271 Carew St", "Springfield", "MA", "01104", "(413) 555-0190")


def _uuid_map(values: pd.Series, salt: str) -> pd.Series:
    """Deterministic UUID-shaped identifiers for demo ids (Synthea uses UUIDs)."""
    hashed = pd.util.hash_pandas_object(values.astype(str), index=False, hash_key=(salt * 16)[:16]).to_numpy(np.uint64)
    second = pd.util.hash_pandas_object(values.astype(str) + "~", index=False, hash_key=(salt * 16)[:16]).to_numpy(np.uint64)
    text = [f"{a:016x}{b:016x}" for a, b in zip(hashed.tolist(), second.tolist())]
    return pd.Series([f"{t[:8]}-{t[8:12]}-{t[12:16]}-{t[16:20]}-{t[20:]}" for t in text], index=values.index, dtype=object)


def _stamp(series: pd.Series, fmt: str) -> pd.Series:
    """Dates as text in ``fmt``, "" where missing; ISO layouts are vectorised (strftime is per row)."""
    stamps = pd.to_datetime(series)
    if fmt in ("%Y-%m-%d", "%Y-%m-%dT%H:%M:%SZ"):
        values = stamps.to_numpy(dtype="datetime64[s]")
        text = np.datetime_as_string(values, unit="D" if fmt == "%Y-%m-%d" else "s").astype(object)
        if fmt.endswith("Z"):
            text = text + "Z"
        text[np.isnat(values)] = ""
        return pd.Series(text, index=series.index, dtype=object)
    return stamps.dt.strftime(fmt).astype(object).where(stamps.notna(), "")


def _write(frame: pd.DataFrame, path: Path, headers: list[str]) -> None:
    out = frame.reindex(columns=headers)
    out.to_csv(path, index=False, lineterminator="\n", quoting=csv.QUOTE_MINIMAL)


def write_synthea_folder(practice: DemoPractice, folder: str | Path) -> Path:
    """Write ``practice`` as a Synthea CSV export (older column layout) into ``folder``.

    Scheduled, cancelled and missed appointments are left out (Synthea records only
    encounters that happened), as are the demo's phone numbers, e-mails and languages.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    f = practice.frames
    ts, day = "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d"

    locations = f["locations"]
    org_ids = _uuid_map(pd.concat([locations["external_id"], pd.Series([_HOSPITAL[0]])], ignore_index=True), "org")
    org_of = dict(zip(list(locations["external_id"]) + [_HOSPITAL[0]], org_ids))
    orgs = pd.DataFrame(
        {
            "Id": org_ids,
            "NAME": list(locations["name"]) + [_HOSPITAL[1]],
            "ADDRESS": list(locations["address"]) + [_HOSPITAL[2]],
            "CITY": list(locations["city"]) + [_HOSPITAL[3]],
            "STATE": list(locations["state"]) + [_HOSPITAL[4]],
            "ZIP": list(locations["postal_code"]) + [_HOSPITAL[5]],
            "LAT": 42.1015,
            "LON": -72.5898,
            "PHONE": list(locations["phone"]) + [_HOSPITAL[6]],
            "REVENUE": 0.0,
            "UTILIZATION": 0,
        }
    )
    _write(orgs, folder / "organizations.csv", _SYNTHEA_HEADERS["organizations.csv"])

    providers = f["providers"]
    provider_ids = _uuid_map(providers["external_id"], "prv")
    provider_of = pd.Series(provider_ids.to_numpy(), index=providers["external_id"].to_numpy())
    provider_org = providers["location_ref"].fillna(_HOSPITAL[0]).map(org_of)
    prv = pd.DataFrame(
        {
            "Id": provider_ids,
            "ORGANIZATION": provider_org,
            "NAME": providers["first_name"] + " " + providers["last_name"],
            "GENDER": "U",
            "SPECIALITY": providers["specialty"].str.upper(),
            "UTILIZATION": 0,
        }
    )
    _write(prv, folder / "providers.csv", _SYNTHEA_HEADERS["providers.csv"])

    patients = f["patients"]
    patient_ids = _uuid_map(patients["external_id"], "pat")
    patient_of = pd.Series(patient_ids.to_numpy(), index=patients["external_id"].to_numpy())
    pat = pd.DataFrame(
        {
            "Id": patient_ids,
            "BIRTHDATE": _stamp(patients["dob"], day),
            "DEATHDATE": _stamp(patients["deceased_date"], day),
            "SSN": "999-00-0000",
            "FIRST": patients["first_name"],
            "LAST": patients["last_name"],
            "SUFFIX": patients["suffix"],
            "GENDER": patients["sex"],
            "ADDRESS": patients["address1"],
            "CITY": patients["city"],
            "STATE": patients["state"],
            "ZIP": patients["postal_code"],
            "HEALTHCARE_EXPENSES": 0.0,
            "HEALTHCARE_COVERAGE": 0.0,
        }
    )
    _write(pat, folder / "patients.csv", _SYNTHEA_HEADERS["patients.csv"])
    del pat

    visits = f["visits"]
    visits = visits.loc[visits["status"] == "completed"]
    encounter_ids = _uuid_map(visits["external_id"], "enc")
    encounter_of = pd.Series(encounter_ids.to_numpy(), index=visits["external_id"].to_numpy())
    klass = visits["visit_class"]
    enc = pd.DataFrame(
        {
            "Id": encounter_ids,
            "START": _stamp(visits["start"], ts),
            "STOP": _stamp(visits["end"], ts),
            "PATIENT": visits["patient_ref"].map(patient_of),
            "ORGANIZATION": visits["location_ref"].fillna(_HOSPITAL[0]).map(org_of),
            "PROVIDER": visits["provider_ref"].map(provider_of),
            "ENCOUNTERCLASS": klass,
            "CODE": klass.map({k: v[0] for k, v in _ENCOUNTER_CODES.items()}),
            "DESCRIPTION": klass.map({k: v[1] for k, v in _ENCOUNTER_CODES.items()}),
            "BASE_ENCOUNTER_COST": 85.55,
            "TOTAL_CLAIM_COST": 85.55,
            "PAYER_COVERAGE": 0.0,
            "REASONCODE": visits["reason_code"],
            "REASONDESCRIPTION": visits["reason"],
        }
    )
    _write(enc, folder / "encounters.csv", _SYNTHEA_HEADERS["encounters.csv"])
    del enc

    def encounter(refs: pd.Series) -> pd.Series:
        return refs.map(encounter_of)

    obs = f["observations"]
    out = pd.DataFrame(
        {
            "DATE": _stamp(obs["date"], ts),
            "PATIENT": obs["patient_ref"].map(patient_of),
            "ENCOUNTER": encounter(obs["visit_ref"]),
            "CATEGORY": obs["category"],
            "CODE": obs["code"],
            "DESCRIPTION": obs["description"],
            "VALUE": obs["value"],
            "UNITS": obs["unit"],
            "TYPE": _where(obs["value_num"].notna().to_numpy(), "numeric", "text"),
        }
    )
    _write(out, folder / "observations.csv", _SYNTHEA_HEADERS["observations.csv"])
    del out

    imm = f["immunizations"]
    out = pd.DataFrame(
        {
            "DATE": _stamp(imm["date"], ts),
            "PATIENT": imm["patient_ref"].map(patient_of),
            "ENCOUNTER": encounter(imm["visit_ref"]),
            "CODE": imm["cvx"],
            "DESCRIPTION": imm["description"],
            "BASE_COST": 140.52,
        }
    )
    _write(out, folder / "immunizations.csv", _SYNTHEA_HEADERS["immunizations.csv"])

    proc = f["procedures"]
    cpt = proc["code_system"] == CPT
    code = proc["code"].where(~cpt, proc["code"].map({k: v[0] for k, v in _CPT_TO_SNOMED.items()}))
    description = proc["description"].where(~cpt, proc["code"].map({k: v[1] for k, v in _CPT_TO_SNOMED.items()}))
    out = pd.DataFrame(
        {
            "START": _stamp(proc["date"], ts),
            "STOP": _stamp(proc["date"], ts),
            "PATIENT": proc["patient_ref"].map(patient_of),
            "ENCOUNTER": encounter(proc["visit_ref"]),
            "CODE": code,
            "DESCRIPTION": description,
            "BASE_COST": 500.0,
        }
    )
    _write(out, folder / "procedures.csv", _SYNTHEA_HEADERS["procedures.csv"])

    cond = f["conditions"]
    out = pd.DataFrame(
        {
            "START": _stamp(cond["onset"], day),
            "STOP": _stamp(cond["resolved"], day),
            "PATIENT": cond["patient_ref"].map(patient_of),
            "ENCOUNTER": encounter(cond["visit_ref"]),
            "CODE": cond["code"],
            "DESCRIPTION": cond["description"],
        }
    )
    _write(out, folder / "conditions.csv", _SYNTHEA_HEADERS["conditions.csv"])

    med = f["medications"]
    out = pd.DataFrame(
        {
            "START": _stamp(med["start"], ts),
            "STOP": _stamp(med["stop"], ts),
            "PATIENT": med["patient_ref"].map(patient_of),
            "ENCOUNTER": encounter(med["visit_ref"]),
            "CODE": med["code"],
            "DESCRIPTION": med["description"],
            "BASE_COST": 12.0,
            "PAYER_COVERAGE": 0.0,
            "DISPENSES": 12,
            "TOTALCOST": 144.0,
        }
    )
    _write(out, folder / "medications.csv", _SYNTHEA_HEADERS["medications.csv"])
    return folder


# athenahealth Report Builder appointment statuses (the letter codes athenaOne shows); a
# missed appointment is a cancelled one whose cancel reason says so.
_ATHENA_STATUS = {
    "scheduled": "f - Future",
    "completed": "4 - Charge Entered",
    "no-show": "x - Cancelled",
    "cancelled": "x - Cancelled",
}
_ATHENA_CANCEL_REASON = {"no-show": "PATIENT NO SHOW", "cancelled": "PATIENT CANCELLED"}
_PM_PATIENT_HEADERS = ["patientid", "patient firstname", "patient lastname", "patientdob", "patientsex",
                       "patient address1", "patient city", "patient state", "patient zip", "patient homephone",
                       "patient mobile no", "patient email", "patient language"]
_PM_APPOINTMENT_HEADERS = ["appointmentid", "patientid", "apptdate", "apptstarttime", "appttype", "apptstatus",
                           "apptcancelleddate", "apptcancelreason", "appt schdlng prvdr"]


def write_pm_csvs(practice: DemoPractice, folder: str | Path) -> tuple[Path, Path]:
    """Write ``practice`` as athenahealth Report Builder patient and appointment CSVs.

    Returns ``(patients_csv, appointments_csv)``. Appointments are the practice's clinic
    visits (past and scheduled); emergency and hospital care is not booked in a PM system.
    Missed appointments appear as cancelled ones with the cancel reason "PATIENT NO SHOW"
    and the cancel date of the day itself.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    f = practice.frames
    patients = f["patients"]
    athena_id = pd.Series(np.arange(10_001, 10_001 + len(patients)).astype(str), index=patients.index, dtype=object)
    athena_of = pd.Series(athena_id.to_numpy(), index=patients["external_id"].to_numpy())
    language = patients["preferred_language"].map({"en": "English", "es": "Spanish"})
    pat = pd.DataFrame(
        {
            "patientid": athena_id,
            "patient firstname": patients["first_name"],
            "patient lastname": patients["last_name"],
            "patientdob": _stamp(patients["dob"], "%m/%d/%Y"),
            "patientsex": patients["sex"],
            "patient address1": patients["address1"],
            "patient city": patients["city"],
            "patient state": patients["state"],
            "patient zip": patients["postal_code"],
            "patient homephone": patients["phone_home"],
            "patient mobile no": patients["phone_mobile"],
            "patient email": patients["email"],
            "patient language": language,
        }
    )
    patients_csv = folder / "athena_patients.csv"
    _write(pat, patients_csv, _PM_PATIENT_HEADERS)

    visits = f["visits"]
    visits = visits.loc[visits["visit_class"].isin(["wellness", "ambulatory", "outpatient", "virtual"])]
    providers = f["providers"]
    # Report Builder shows the scheduling provider as LAST, FIRST.
    provider_name = pd.Series(
            (providers["last_name"].str.upper() + ", " + providers["first_name"].str.upper()).to_numpy(),
        index=providers["external_id"].to_numpy(),
    )
    start = pd.to_datetime(visits["start"])
    status = visits["status"]
    cancelled = pd.to_datetime(visits["cancelled_date"]).where(status != "no-show", start.dt.normalize())
    appt = pd.DataFrame(
        {
            "appointmentid": np.arange(500_001, 500_001 + len(visits)).astype(str),
            "patientid": visits["patient_ref"].map(athena_of).to_numpy(),
            "apptdate": start.dt.strftime("%m/%d/%Y").to_numpy(),
            "apptstarttime": start.dt.strftime("%I:%M %p").to_numpy(),
            "appttype": visits["visit_type"].to_numpy(),
            "apptstatus": status.map(_ATHENA_STATUS).to_numpy(),
            "apptcancelleddate": _stamp(cancelled, "%m/%d/%Y").to_numpy(),
            "apptcancelreason": status.map(_ATHENA_CANCEL_REASON).to_numpy(),
            "appt schdlng prvdr": visits["provider_ref"].map(provider_name).to_numpy(),
        }
    )
    appointments_csv = folder / "athena_appointments.csv"
    _write(appt, appointments_csv, _PM_APPOINTMENT_HEADERS)
    return patients_csv, appointments_csv
