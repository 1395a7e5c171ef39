"""A deterministic synthetic practice, of any size, for demos, training and benchmarks.

``load_demo`` fills a registry with a practice that looks current whatever the run
date: clinic locations, panel providers (family medicine, internal medicine,
pediatrics, nurse practitioners, physician assistants) and two kinds of non-panel
providers (cardiology, urgent care / emergency), patients of all ages with a visit
history over the last three years, chronic conditions with age-dependent prevalence,
vitals, labs and screening results, immunizations, screening procedures, medications,
and appointments over the next two weeks. The same ``(patients, seed, as_of)`` always
gives the same registry; every date is relative to ``as_of``.

Everything is generated column-wise with numpy and pandas (100,000 patients, ~1M
visits and ~2M observations are the design size) and written through the importers'
own ``write_parsed`` with source ``"demo"``, so loading the demo exercises the same
path a real import takes, and loading it twice changes nothing. A registry that holds
patients from a practice's own systems, or a different demo practice, is refused
(``DemoRefused``): invented patients are never mixed with real ones.

``write_synthea_folder`` and ``write_pm_csvs`` write the same practice as a Synthea CSV
export (older column layout) and as athenahealth Report Builder patient and
appointment CSVs, for the import benchmark (``tests/benchmarks/bench_import.py``).

All people here are invented: names come from short lists of common names, street
addresses are random, phone numbers use the fictional 555 exchange and e-mail
addresses the reserved example.com/.org/.net domains.

Prevalence figures are round numbers in the range US surveys report (CDC National
Diabetes Statistics Report; CDC hypertension and COPD fact sheets; NHANES obesity
data; CDC/ACIP immunization schedules) so that care-gap screens show plausible rates;
they are illustrations for a demo, not epidemiology.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from panelmanager.core.db import RegistryError
from panelmanager.core.jobs import NEVER_CANCELLED, CancelToken, Progress, no_progress

__all__ = [
    "SOURCE",
    "DemoPractice",
    "DemoRefused",
    "generate_practice",
    "load_demo",
    "write_synthea_folder",
    "write_pm_csvs",
    "npi_check_digit",
    "is_valid_npi",
]

SOURCE = "demo"

SNOMED, LOINC, CPT, RXNORM = "SNOMED", "LOINC", "CPT", "RxNorm"

# --------------------------------------------------------------------------- names and places

_FIRST_F = {
    "anglo": ["Emily", "Sarah", "Jessica", "Ashley", "Elizabeth", "Megan", "Hannah", "Olivia", "Emma", "Abigail",
              "Margaret", "Linda", "Patricia", "Barbara", "Susan", "Nancy", "Karen", "Donna", "Carol", "Ruth",
              "Amanda", "Rachel", "Lauren", "Katherine", "Julia", "Grace", "Madison", "Chloe", "Avery", "Claire"],
    "black": ["Aaliyah", "Imani", "Jasmine", "Keisha", "Tiana", "Destiny", "Ebony", "Nia", "Latoya", "Shanice",
              "Brianna", "Kiara", "Janelle", "Monique", "Tamika", "Zora", "Maya", "Naomi", "Gloria", "Denise"],
    "hispanic": ["María", "Guadalupe", "Ana", "Sofía", "Valentina", "Camila", "Lucía", "Isabella", "Daniela",
                 "Gabriela", "Rosa", "Carmen", "Elena", "Mariana", "Ximena", "Fernanda", "Adriana", "Beatriz",
                 "Yolanda", "Leticia", "Marisol", "Paola", "Alejandra", "Juana", "Verónica"],
    "east_asian": ["Mei", "Lin", "Yuki", "Hana", "Jia", "Xiu", "Min-jung", "Soo-ah", "Thu", "Linh", "Mai", "Ngoc",
                   "Aiko", "Hye-jin", "Fang", "Lan", "Huong", "Jin", "Yan", "Ji-woo"],
    "south_asian": ["Priya", "Ananya", "Aisha", "Fatima", "Sunita", "Kavya", "Deepa", "Nisha", "Meera", "Zainab",
                    "Anjali", "Pooja", "Sana", "Lakshmi", "Riya"],
    "middle_eastern": ["Layla", "Yasmin", "Noor", "Mariam", "Huda", "Rania", "Salma", "Amira", "Dina", "Leila"],
    "east_european": ["Olga", "Natalia", "Irina", "Katarzyna", "Agnieszka", "Svetlana", "Anastasia", "Milena",
                      "Oksana", "Zofia", "Tatiana", "Ewa"],
}
_FIRST_M = {
    "anglo": ["James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas", "Charles",
              "Christopher", "Daniel", "Matthew", "Andrew", "Joshua", "Ryan", "Benjamin", "Samuel", "Henry", "Jack",
              "Liam", "Noah", "Ethan", "Mason", "Logan", "Owen", "Caleb", "Nathan", "Dylan", "Gary"],
    "black": ["DeShawn", "Jamal", "Malik", "Tyrone", "Darnell", "Andre", "Marcus", "Terrell", "Jalen", "Isaiah",
              "Xavier", "Elijah", "Cedric", "Reginald", "Darius", "Kwame", "Jerome", "Lamar", "Trevon", "Devonte"],
    "hispanic": ["José", "Juan", "Luis", "Carlos", "Jorge", "Miguel", "Alejandro", "Santiago", "Mateo", "Diego",
                 "Javier", "Francisco", "Antonio", "Manuel", "Ricardo", "Fernando", "Eduardo", "Raúl", "Andrés",
                 "Héctor", "Sergio", "Rafael", "Emiliano", "Joaquín", "Ramón"],
    "east_asian": ["Wei", "Jun", "Hiroshi", "Kenji", "Min-ho", "Ji-hoon", "Minh", "Tuan", "Duc", "Hao", "Chen",
                   "Tao", "Takumi", "Sung-min", "Quang", "Long", "Bao", "Haruto", "Yong", "Dae-jung"],
    "south_asian": ["Arjun", "Rahul", "Vikram", "Sanjay", "Mohammed", "Imran", "Rohan", "Aditya", "Amit", "Ravi",
                    "Karan", "Farhan", "Suresh", "Nikhil", "Omar"],
    "middle_eastern": ["Ahmed", "Ali", "Hassan", "Omar", "Youssef", "Khalid", "Karim", "Tariq", "Samir", "Nabil"],
    "east_european": ["Dmitri", "Sergei", "Piotr", "Andrzej", "Ivan", "Mikhail", "Tomasz", "Aleksandr", "Vasyl",
                      "Pavel", "Nikolai", "Bogdan"],
}
_LAST = {
    "anglo": ["Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Anderson", "Taylor",
              "Thomas", "Moore", "Martin", "Thompson", "White", "Harris", "Clark", "Lewis", "Robinson", "Walker",
              "Young", "Allen", "King", "Wright", "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter",
              "Mitchell", "Campbell", "Roberts", "Turner", "Phillips", "Parker", "Evans", "Edwards", "Collins",
              "Stewart", "Murphy", "Cook", "Rogers", "Morgan", "Cooper", "Peterson", "Reed", "Bailey", "O'Brien",
              "Sullivan", "McCarthy", "Kelly", "Fitzgerald", "Murray", "Hughes", "Price", "Bennett", "Wood", "Gray"],
    "black": ["Washington", "Jefferson", "Jackson", "Banks", "Freeman", "Booker", "Mosley", "Gaines", "Dorsey",
              "Rivers", "Battle", "Mack", "Hairston", "Pettaway", "Coleman", "Jenkins", "Simmons", "Richardson",
              "Bryant", "Okafor", "Mensah", "Diallo", "Ndiaye", "Asante", "Baptiste", "Toussaint"],
    "hispanic": ["García", "Rodríguez", "Martínez", "Hernández", "López", "González", "Pérez", "Sánchez", "Ramírez",
                 "Torres", "Flores", "Rivera", "Gómez", "Díaz", "Reyes", "Morales", "Cruz", "Ortiz", "Gutiérrez",
                 "Chávez", "Ramos", "Ruiz", "Mendoza", "Álvarez", "Castillo", "Jiménez", "Vásquez", "Romero",
                 "Herrera", "Medina", "Aguilar", "Vargas", "Castro", "Núñez", "Peña", "Santiago", "Colón",
                 "Figueroa", "Rosario", "Delgado"],
    "east_asian": ["Nguyen", "Tran", "Le", "Pham", "Chen", "Wang", "Li", "Zhang", "Liu", "Kim", "Lee", "Park",
                   "Choi", "Tanaka", "Sato", "Suzuki", "Huang", "Wu", "Vo", "Dang", "Hoang", "Yamamoto", "Lin"],
    "south_asian": ["Patel", "Shah", "Singh", "Kumar", "Sharma", "Gupta", "Khan", "Ahmed", "Reddy", "Rao", "Desai",
                    "Chowdhury", "Iyer", "Mehta", "Hussain"],
    "middle_eastern": ["Haddad", "Khoury", "Nasser", "Saleh", "Mansour", "Aziz", "Farah", "Hamdan", "Karam",
                       "Abboud", "Said", "Rahman"],
    "east_european": ["Kowalski", "Nowak", "Wiśniewski", "Ivanov", "Petrov", "Smirnov", "Kovalenko", "Shevchenko",
                      "Novak", "Horvat", "Popescu", "Lewandowski", "Kuznetsov", "Bondarenko"],
}
# Share of English-speaking patients by the name list their names come from.
_GROUP_SHARES = {"anglo": 0.50, "black": 0.15, "hispanic": 0.12, "east_asian": 0.09, "south_asian": 0.05,
                 "middle_eastern": 0.03, "east_european": 0.06}

_STREETS = ["Maple", "Oak", "Cedar", "Elm", "Washington", "Lincoln", "Main", "Park", "River", "Hill", "Lake",
            "Pine", "Church", "Mill", "Spring", "Highland", "Chestnut", "Walnut", "Franklin", "Jefferson", "Madison",
            "Pleasant", "Union", "School", "Center", "Prospect", "Summer", "Water", "Bridge", "Orchard", "Sunset",
            "Belmont", "Dwight", "State", "Liberty", "Mulberry", "Hickory", "Birch", "Forest", "Meadow"]
_STREET_KINDS = ["St", "Ave", "Rd", "Ln", "Dr", "Ct", "Way", "Pl", "Blvd", "Ter"]
_CITIES = [("Springfield", "01103"), ("Springfield", "01104"), ("Springfield", "01105"), ("Springfield", "01107"),
           ("Springfield", "01108"), ("Springfield", "01109"), ("Chicopee", "01013"), ("Chicopee", "01020"),
           ("Holyoke", "01040"), ("West Springfield", "01089"), ("Westfield", "01085"), ("Agawam", "01001"),
           ("Ludlow", "01056"), ("East Longmeadow", "01028"), ("Longmeadow", "01106"), ("Wilbraham", "01095")]
_STATE = "MA"
_AREA_CODES = ["413", "413", "413", "774", "508"]
_EMAIL_DOMAINS = ["example.com", "example.org", "example.net"]

_LOCATION_NAMES = ["Riverside Family Health Center", "Northgate Community Clinic", "Maple Street Health Center",
                   "Eastfield Primary Care", "Forest Park Family Practice", "Hillside Health Center",
                   "Union Square Clinic", "Brightwood Community Health", "Six Corners Family Medicine",
                   "Pine Point Primary Care"]


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in folded if ch.isalnum()).lower()


# --------------------------------------------------------------------------- clinical vocabulary

# (key, SNOMED code, description, prevalence by age band 0-17 / 18-39 / 40-64 / 65+)
_CONDITIONS = [
    ("obesity", "162864005", "Body mass index 30+ - obesity (finding)", (0.17, 0.33, 0.40, 0.36)),
    ("diabetes", "44054006", "Diabetes mellitus type 2 (disorder)", (0.002, 0.03, 0.12, 0.24)),
    ("hypertension", "38341003", "Hypertensive disorder, systemic arterial (disorder)", (0.004, 0.08, 0.33, 0.60)),
    ("hyperlipidemia", "55822004", "Hyperlipidemia (disorder)", (0.002, 0.06, 0.28, 0.45)),
    ("ckd", "431855005", "Chronic kidney disease stage 1 (disorder)", (0.0, 0.01, 0.05, 0.15)),
    ("copd", "13645005", "Chronic obstructive lung disease (disorder)", (0.0, 0.005, 0.05, 0.11)),
    ("asthma", "195967001", "Asthma (disorder)", (0.08, 0.08, 0.08, 0.07)),
    ("depression", "35489007", "Depressive disorder (disorder)", (0.03, 0.09, 0.09, 0.07)),
    ("heart_failure", "88805009", "Chronic congestive heart failure (disorder)", (0.0, 0.002, 0.012, 0.06)),
    ("colorectal_cancer", "363406005", "Malignant neoplasm of colon (disorder)", (0.0, 0.0002, 0.003, 0.01)),
]
_CONDITION_KEYS = [c[0] for c in _CONDITIONS]

_OBS = {
    "hba1c": ("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "laboratory"),
    "sbp": ("8480-6", "Systolic blood pressure", "mm[Hg]", "vital-signs"),
    "dbp": ("8462-4", "Diastolic blood pressure", "mm[Hg]", "vital-signs"),
    "bmi": ("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", "vital-signs"),
    "ldl": ("18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", "laboratory"),
    "phq2": ("55757-9", "Patient Health Questionnaire 2 item (PHQ-2) [Reported]", "{score}", "survey"),
    "phq9": ("44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]", "{score}", "survey"),
    "tobacco": ("72166-2", "Tobacco smoking status", None, "social-history"),
    "fit": ("29771-3", "Hemoglobin.gastrointestinal [Presence] in Stool by Immunologic method", None, "laboratory"),
    "cytology": ("10524-7", "Microscopic observation [Identifier] in Cervix by Cyto stain", None, "laboratory"),
    "hpv": ("30167-1", "Human papilloma virus 16+18+31+33+35+39+45+51+52+56+58+59+66+68 DNA [Presence] in Cervix",
            None, "laboratory"),
}
_SMOKING = ["Never smoker", "Former smoker", "Current every day smoker", "Current some day smoker"]
_SMOKING_SHARES = [0.64, 0.21, 0.12, 0.03]

_PROCEDURES = {
    "colonoscopy": [(SNOMED, "73761001", "Colonoscopy (procedure)"), (CPT, "45378", "Colonoscopy, flexible; diagnostic")],
    "mammography": [(SNOMED, "71651007", "Mammography (procedure)"),
                    (CPT, "77067", "Screening mammography, bilateral, including computer-aided detection")],
    "pap": [(SNOMED, "90226004", "Cytopathology procedure, preparation of smear, genital source (procedure)"),
            (CPT, "88175", "Cytopathology, cervical or vaginal, automated thin layer preparation")],
    "sigmoidoscopy": [(SNOMED, "44441009", "Flexible fiberoptic sigmoidoscopy (procedure)")],
    "ct_colonography": [(SNOMED, "418714002", "Computed tomographic colonography (procedure)")],
}

_CVX = {
    "140": "Influenza, seasonal, injectable, preservative free",
    "141": "Influenza, seasonal, injectable",
    "150": "Influenza, injectable, quadrivalent, preservative free",
    "158": "Influenza, injectable, quadrivalent, contains preservative",
    "185": "Influenza, recombinant, quadrivalent, injectable, preservative free",
    "197": "Influenza, high-dose, quadrivalent",
    "33": "Pneumococcal polysaccharide vaccine, 23 valent",
    "133": "Pneumococcal conjugate vaccine, 13 valent",
    "215": "Pneumococcal conjugate vaccine, 15 valent",
    "216": "Pneumococcal conjugate vaccine, 20 valent",
    "20": "DTaP",
    "106": "DTaP, 5 pertussis antigens",
    "107": "DTaP, unspecified formulation",
    "10": "IPV",
    "03": "MMR",
    "49": "Hib (PRP-OMP)",
    "48": "Hib (PRP-T)",
    "08": "Hep B, adolescent or pediatric",
    "21": "Varicella",
    "152": "Pneumococcal conjugate, unspecified formulation",
    "83": "Hep A, ped/adol, 2 dose",
    "116": "Rotavirus, pentavalent",
    "119": "Rotavirus, monovalent",
}
# The routine childhood series (CDC/ACIP child schedule): (series, CVX or per-child
# alternatives, dose due ages in months).
_CHILD_SERIES = [
    ("hepb", ("08",), (0, 1, 6)),
    ("dtap", ("20", "106", "107"), (2, 4, 6, 15, 48)),
    ("ipv", ("10",), (2, 4, 6, 48)),
    ("hib_omp", ("49",), (2, 4, 12)),
    ("hib_t", ("48",), (2, 4, 6, 15)),
    ("pcv", ("133", "152"), (2, 4, 6, 12)),
    ("mmr", ("03",), (12, 48)),
    ("vzv", ("21",), (12, 48)),
    ("hepa", ("83",), (12, 18)),
    ("rv5", ("116",), (2, 4, 6)),
    ("rv1", ("119",), (2, 4)),
]

_MEDICATIONS = {
    "atorvastatin": ("617310", "atorvastatin 20 MG Oral Tablet"),
    "simvastatin": ("312961", "simvastatin 20 MG Oral Tablet"),
    "rosuvastatin": ("859749", "rosuvastatin calcium 10 MG Oral Tablet"),
    "metformin": ("860975", "24 HR metformin hydrochloride 500 MG Extended Release Oral Tablet"),
    "lisinopril": ("314076", "lisinopril 10 MG Oral Tablet"),
}

_SICK_REASONS = [("195662009", "Acute viral pharyngitis (disorder)"), ("10509002", "Acute bronchitis (disorder)"),
                 ("65363002", "Otitis media (disorder)"), ("36971009", "Sinusitis (disorder)"),
                 ("279039007", "Low back pain (finding)"), ("68566005", "Urinary tract infectious disease (disorder)"),
                 ("444814009", "Viral sinusitis (disorder)"), ("43878008", "Streptococcal sore throat (disorder)")]

# Visit classes in the order of the probability rows below.
_CLASSES = np.array(["wellness", "ambulatory", "outpatient", "virtual", "urgentcare", "emergency", "inpatient"],
                    dtype=object)
_PRIMARY = np.array([True, True, True, True, False, False, False])
WELLNESS, AMBULATORY, OUTPATIENT, VIRTUAL, URGENTCARE, EMERGENCY, INPATIENT = range(len(_CLASSES))
# Class probabilities by age band: <3, 3-17, 18-64, 65+.
_CLASS_P = np.array([
    [0.62, 0.26, 0.02, 0.01, 0.04, 0.045, 0.005],
    [0.34, 0.45, 0.04, 0.03, 0.07, 0.065, 0.005],
    [0.20, 0.52, 0.10, 0.05, 0.06, 0.055, 0.015],
    [0.17, 0.52, 0.14, 0.04, 0.04, 0.06, 0.03],
])

# --------------------------------------------------------------------------- NPIs


def npi_check_digit(base9: str) -> str:
    """The Luhn check digit of a 9-digit NPI base, computed with the 80840 card-issuer prefix."""
    if len(base9) != 9 or not base9.isdigit():
        raise ValueError(f"an NPI base is 9 digits, not {base9!r}")
    total = 0
    for position, char in enumerate(reversed("80840" + base9)):
        digit = int(char)
        if position % 2 == 0:  # the digit next to the (future) check digit is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return str((10 - total % 10) % 10)


def is_valid_npi(npi: str) -> bool:
    """True for a 10-digit NPI whose last digit is its Luhn check digit."""
    return len(npi) == 10 and npi.isdigit() and npi_check_digit(npi[:9]) == npi[9]


# --------------------------------------------------------------------------- date helpers

_DAY = np.timedelta64(1, "D")


def _years(n: float) -> np.timedelta64:
    return np.timedelta64(int(round(n * 365.25)), "D")


def _weekday(days: np.ndarray) -> np.ndarray:
    """Monday = 0 ... Sunday = 6 for datetime64[D] values (1970-01-01 was a Thursday)."""
    return (days.astype("int64") + 3) % 7


def _age_at(dob: np.ndarray, when: np.ndarray | np.datetime64) -> np.ndarray:
    """Completed years from ``dob`` to ``when`` (datetime64[D] arrays)."""
    dob = np.asarray(dob, dtype="datetime64[D]")
    when = np.broadcast_to(np.asarray(when, dtype="datetime64[D]"), dob.shape)
    y1 = dob.astype("datetime64[Y]").astype(int)
    y2 = when.astype("datetime64[Y]").astype(int)
    m1 = dob.astype("datetime64[M]").astype(int) % 12
    m2 = when.astype("datetime64[M]").astype(int) % 12
    d1 = (dob - dob.astype("datetime64[M]")).astype(int)
    d2 = (when - when.astype("datetime64[M]")).astype(int)
    before = (m2 < m1) | ((m2 == m1) & (d2 < d1))
    return y2 - y1 - before.astype(int)


def _uniform_days(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """A uniformly random day in [lo, hi] per element (hi >= lo)."""
    span = (hi - lo).astype("int64") + 1
    return lo + (rng.random(len(lo)) * span).astype("int64").astype("timedelta64[D]")


def _at_time(days: np.ndarray, minutes: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[s]") + (np.asarray(minutes, dtype="int64") * 60).astype("timedelta64[s]")


def _pick(rng: np.random.Generator, values, n: int, p=None) -> np.ndarray:
    """``n`` draws from ``values`` as an object array sharing the same string objects."""
    pool = np.array(list(values) + [None], dtype=object)[:-1]
    return pool[rng.choice(len(pool), size=n, p=p)]


def _const(n: int, value) -> np.ndarray:
    """An object array of ``n`` references to one value (``np.full`` copies strings per row)."""
    out = np.empty(n, dtype=object)
    out[:] = value
    return out


def _where(condition: np.ndarray, a, b) -> np.ndarray:
    """``np.where`` for text: an object array whose rows share the given string objects.

    ``np.where`` on strings goes through a fixed-width unicode array, and turning that
    back into objects makes one new string per row: hundreds of MB at 2M rows.
    """
    out = np.empty(len(condition), dtype=object)
    out[:] = b
    out[condition] = a if isinstance(a, str) or a is None else np.asarray(a, dtype=object)[condition]
    return out


def _ids(prefix: str, n: int, width: int, start: int = 1) -> np.ndarray:
    return np.array([f"{prefix}{i:0{width}d}" for i in range(start, start + n)], dtype=object)


# --------------------------------------------------------------------------- the practice


@dataclass
class DemoPractice:
    """A generated practice: one frame per registry table, in the importers' ``ParsedImport`` layout.

    Reference columns (``patient_ref``, ``provider_ref``, ``location_ref``,
    ``visit_ref``, ``pm_provider_ref``) hold the demo's own identifiers.
    """

    patients_requested: int
    seed: int
    as_of: dt.date
    frames: dict[str, pd.DataFrame]

    def counts(self) -> dict[str, int]:
        return {name: len(frame) for name, frame in self.frames.items()}


class _Generator:
    def __init__(self, patients: int, seed: int, as_of: dt.date) -> None:
        if patients < 1:
            raise ValueError("a demo practice needs at least one patient")
        self.n = int(patients)
        self.seed = int(seed)
        self.as_of = as_of
        self.today = np.datetime64(as_of, "D")
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed % (1 << 63), 0x50A4E1]))

    # ----------------------------------------------------------------- locations and providers

    def locations(self) -> pd.DataFrame:
        rng = self.rng
        count = max(1, int(round(self.n / 15_000)))
        names = [
            _LOCATION_NAMES[i % len(_LOCATION_NAMES)] + (f" {i // len(_LOCATION_NAMES) + 1}" if i >= len(_LOCATION_NAMES) else "")
            for i in range(count)
        ]
        cities = [_CITIES[int(i)] for i in rng.integers(0, len(_CITIES), size=count)]
        self.location_ids = _ids("DL", count, 3)
        self.location_frame = pd.DataFrame(
            {
                "external_id": self.location_ids,
                "name": np.array(names, dtype=object),
                "address": np.array(
                    [f"{int(rng.integers(10, 2000))} {_STREETS[int(rng.integers(len(_STREETS)))]} St" for _ in range(count)],
                    dtype=object,
                ),
                "city": np.array([c[0] for c in cities], dtype=object),
                "state": _STATE,
                "postal_code": np.array([c[1] for c in cities], dtype=object),
                "phone": np.array([f"(413) 555-{int(rng.integers(100, 200)):04d}" for _ in range(count)], dtype=object),
            }
        )
        return self.location_frame

    def providers(self) -> pd.DataFrame:
        rng = self.rng
        n_panel = max(2, int(round(self.n / 1_500)))
        n_peds = max(1, int(round(n_panel * 0.18)))
        kinds = ["fm"] + list(rng.choice(["fm", "im", "np", "pa"], size=n_panel - n_peds - 1, p=[0.40, 0.22, 0.23, 0.15]))
        kinds += ["peds"] * n_peds
        kinds = [str(k) for k in kinds]
        order = rng.permutation(n_panel)
        kinds = [kinds[i] for i in order]
        n_cardio = max(1, self.n // 50_000)
        n_ed = max(1, self.n // 30_000)
        all_kinds = kinds + ["cardiology"] * n_cardio + ["ed"] * n_ed

        specialty = {"fm": "Family Medicine", "im": "Internal Medicine", "peds": "Pediatrics",
                     "np": "Nurse Practitioner", "pa": "Physician Assistant", "cardiology": "Cardiology",
                     "ed": "Emergency Medicine"}
        rows = []
        used_npis: set[str] = set()
        for index, kind in enumerate(all_kinds):
            female = rng.random() < 0.55
            group = str(rng.choice(list(_GROUP_SHARES), p=list(_GROUP_SHARES.values())))
            firsts = (_FIRST_F if female else _FIRST_M)[group]
            first = firsts[int(rng.integers(len(firsts)))]
            last = _LAST[group][int(rng.integers(len(_LAST[group])))]
            if kind in ("fm", "im", "peds", "cardiology", "ed"):
                credentials = "DO" if rng.random() < 0.2 else "MD"
            elif kind == "np":
                credentials = str(rng.choice(["FNP-C", "NP", "APRN", "FNP-BC"]))
            else:
                credentials = "PA-C"
            if kind in ("cardiology", "ed"):
                fte = 1.0
            else:
                fte = float(rng.choice([0.5, 0.6, 0.7, 0.8, 0.9, 1.0], p=[0.06, 0.06, 0.06, 0.14, 0.13, 0.55]))
            per_day = {"peds": (20, 26), "fm": (18, 24), "im": (16, 22), "np": (14, 18), "pa": (14, 19)}.get(kind, (12, 20))
            while True:
                base = f"1{int(rng.integers(0, 10**8)):08d}"
                npi = base + npi_check_digit(base)
                if npi not in used_npis:
                    used_npis.add(npi)
                    break
            rows.append(
                {
                    "external_id": f"DP{index + 1:04d}",
                    "npi": npi,
                    "first_name": first,
                    "last_name": last,
                    "display_name": f"{first} {last}, {credentials}",
                    "credentials": credentials,
                    "specialty": specialty[kind],
                    "fte": fte,
                    "clinic_days_per_year": float(round(fte * float(rng.integers(200, 226)))),
                    "visits_per_day": float(rng.integers(*per_day)),
                    # A few clinicians have closed their panel to new patients.
                    "panel_open": bool(rng.random() < 0.9) if kind not in ("cardiology", "ed") else True,
                    "active": True,
                    "location_ref": self.location_ids[index % len(self.location_ids)] if kind not in ("cardiology", "ed") else None,
                }
            )
        frame = pd.DataFrame(rows)
        frame["location_ref"] = frame["location_ref"].astype(object)
        self.provider_ids = frame["external_id"].to_numpy(dtype=object)
        self.provider_kind = np.array(all_kinds, dtype=object)
        self.provider_fte = frame["fte"].to_numpy()
        self.provider_location = frame["location_ref"].to_numpy(dtype=object)
        self.provider_display = frame["display_name"].to_numpy(dtype=object)
        kinds_arr = self.provider_kind
        self.peds = np.flatnonzero(kinds_arr == "peds")
        self.adult_pcps = np.flatnonzero(np.isin(kinds_arr, ["fm", "im", "np", "pa"]))
        self.family = np.flatnonzero(kinds_arr == "fm")
        self.cardiologists = np.flatnonzero(kinds_arr == "cardiology")
        self.ed_docs = np.flatnonzero(kinds_arr == "ed")
        self.panel_providers = np.flatnonzero(np.isin(kinds_arr, ["fm", "im", "np", "pa", "peds"]))
        self.provider_frame = frame
        return frame

    # ----------------------------------------------------------------- patients

    def patients(self) -> pd.DataFrame:
        rng, n, today = self.rng, self.n, self.today
        # Age pyramid: flat through working age, thinning after 65 (US census shape).
        ages = np.arange(96)
        weight = np.where(ages < 18, 1.20, np.where(ages < 65, 1.25, 1.25 * np.exp(-(ages - 64) / 13.0)))
        weight = np.where(ages < 1, 1.05, weight)
        age = rng.choice(96, size=n, p=weight / weight.sum())
        offset = rng.integers(1, 365, size=n)
        dob = today - (np.round(age * 365.25).astype("int64") + offset).astype("timedelta64[D]")
        age = _age_at(dob, today)
        self.dob, self.age = dob, age

        sex = _pick(rng, ["F", "M", "U"], n, p=[0.515, 0.482, 0.003])
        self.female = sex == "F"
        spanish = rng.random(n) < 0.15
        self.spanish = spanish
        language = _where(spanish, "es", "en")

        groups = list(_GROUP_SHARES)
        group = rng.choice(len(groups), size=n, p=list(_GROUP_SHARES.values()))
        group[spanish] = groups.index("hispanic")
        u_first, u_middle, u_last, u_female = rng.random(n), rng.random(n), rng.random(n), rng.random(n)
        has_middle = rng.random(n) < 0.35
        use_female = (sex == "F") | ((sex == "U") & (u_female < 0.5))
        first = np.empty(n, dtype=object)
        middle = np.full(n, None, dtype=object)
        last = np.empty(n, dtype=object)
        first_ascii = np.empty(n, dtype=object)
        last_ascii = np.empty(n, dtype=object)
        for g_index, g in enumerate(groups):
            in_group = group == g_index
            for female_names, pool_map in ((True, _FIRST_F), (False, _FIRST_M)):
                mask = in_group & (use_female == female_names)
                pool = np.array(pool_map[g], dtype=object)
                pool_ascii = np.array([_ascii(x) for x in pool_map[g]], dtype=object)
                pick = (u_first[mask] * len(pool)).astype(int)
                first[mask] = pool[pick]
                first_ascii[mask] = pool_ascii[pick]
                mids = mask & has_middle
                middle[mids] = pool[(u_middle[mids] * len(pool)).astype(int)]
            pool = np.array(_LAST[g], dtype=object)
            pool_ascii = np.array([_ascii(x) for x in _LAST[g]], dtype=object)
            pick = (u_last[in_group] * len(pool)).astype(int)
            last[in_group] = pool[pick]
            last_ascii[in_group] = pool_ascii[pick]
        suffix = np.full(n, None, dtype=object)
        u = rng.random(n)
        suffix[(sex == "M") & (u < 0.02)] = "Jr."
        suffix[(sex == "M") & (u >= 0.02) & (u < 0.025)] = "III"

        # Addresses: ~3% have none that mail can reach.
        street = pd.Series(rng.integers(1, 1600, size=n)).astype(str).to_numpy(dtype=object)
        street = street + " " + _pick(rng, _STREETS, n) + " " + _pick(rng, _STREET_KINDS, n)
        city_index = rng.integers(0, len(_CITIES), size=n)
        city = np.array([c[0] for c in _CITIES], dtype=object)[city_index]
        postal = np.array([c[1] for c in _CITIES], dtype=object)[city_index]
        state = _const(n, _STATE)
        apartment = rng.random(n) < 0.22
        address2 = np.full(n, None, dtype=object)
        address2[apartment] = "Apt " + pd.Series(rng.integers(1, 40, size=int(apartment.sum()))).astype(str).to_numpy(dtype=object) + _pick(rng, ["", "A", "B", "C"], int(apartment.sum()))
        no_address = rng.random(n) < 0.03
        self.no_address = no_address
        street[no_address] = None
        address2[no_address] = None
        partial = no_address & (rng.random(n) < 0.5)  # half of them still have a city
        city[no_address & ~partial] = None
        state[no_address & ~partial] = None
        postal[no_address] = None

        def phones(share: float) -> np.ndarray:
            has = rng.random(n) < share
            numbers = pd.Series(rng.integers(200, 10_000, size=n)).astype(str).str.zfill(4).to_numpy(dtype=object)
            text = "(" + _pick(rng, _AREA_CODES, n) + ") 555-" + numbers
            text[~has] = None
            return text

        phone_home = phones(0.45)
        phone_mobile = phones(0.86)
        has_email = (rng.random(n) < np.where(age < 13, 0.35, np.where(age >= 75, 0.40, 0.70)))
        email = (first_ascii + "." + last_ascii + pd.Series(rng.integers(1, 100, size=n)).astype(str).to_numpy(dtype=object)
                 + "@" + _pick(rng, _EMAIL_DOMAINS, n))
        email[~has_email] = None

        # Status and the last day each patient can have anything recorded.
        p_dead = np.where(age >= 80, 0.06, np.where(age >= 65, 0.02, 0.001))
        deceased = rng.random(n) < p_dead
        # Even a small demo shows each kind of patient a panel manager must handle.
        self._at_least(deceased, age >= 50, 2)
        moved = ~deceased & (rng.random(n) < 0.015)
        self._at_least(moved, ~deceased, 2)
        window_start = today - _years(3)
        death = _uniform_days(rng, np.maximum(window_start, dob + _DAY), np.full(n, today - _DAY))
        moved_on = _uniform_days(rng, np.maximum(today - _years(2), dob + _DAY), np.full(n, today - 30 * _DAY))
        last_day = np.full(n, today - _DAY)
        last_day = np.where(deceased, death, last_day)
        last_day = np.where(moved, np.minimum(moved_on, last_day), last_day)
        status = _const(n, "active")
        status[deceased] = "deceased"
        status[moved] = "moved"
        deceased_date = np.where(deceased, death, np.datetime64("NaT")).astype("datetime64[D]")
        alive_active = status == "active"
        # Some active patients have not been seen for 4+ years, some never (new to the practice).
        unseen = alive_active & (age >= 6) & (rng.random(n) < 0.05)
        never = alive_active & ~unseen & (rng.random(n) < 0.045)
        self._at_least(unseen, alive_active & (age >= 6) & ~never, 2)
        self._at_least(never, alive_active & ~unseen, 3)
        last_day = np.where(unseen, today - _years(4) - _DAY, last_day)
        self.status, self.deceased, self.moved, self.unseen, self.never = status, deceased, moved, unseen, never
        self.last_day = last_day
        self.active = alive_active

        # Home provider: pediatrics for most children, FTE-weighted among adult clinicians otherwise.
        home = np.empty(n, dtype=np.int64)
        child = age < 18
        self.child = child
        to_family = child & (rng.random(n) < 0.15)
        peds_child = child & ~to_family
        home[peds_child] = self._fte_choice(self.peds, int(peds_child.sum()))
        home[to_family] = self._fte_choice(self.family, int(to_family.sum()))
        adult = ~child
        home[adult] = self._fte_choice(self.adult_pcps, int(adult.sum()))
        self.home = home

        # The PM system's PCP field: usually set, sometimes stale.
        pm_pcp = self.provider_ids[home].copy()
        stale = rng.random(n) < 0.08
        pm_pcp[stale] = self.provider_ids[self.panel_providers[rng.integers(0, len(self.panel_providers), size=n)]][stale]
        pm_pcp[rng.random(n) < 0.25] = None

        self.patient_ids = _ids("D", n, 7)
        self.patient_frame = pd.DataFrame(
            {
                "external_id": self.patient_ids,
                "mrn": self.patient_ids,
                "first_name": first,
                "middle_name": middle,
                "last_name": last,
                "suffix": suffix,
                "dob": dob.astype("datetime64[s]"),
                "sex": sex,
                "address1": street,
                "address2": address2,
                "city": city,
                "state": state,
                "postal_code": postal,
                "phone_home": phone_home,
                "phone_mobile": phone_mobile,
                "email": email,
                "preferred_language": language,
                "status": status,
                "deceased_date": deceased_date.astype("datetime64[s]"),
                "pm_provider_ref": pm_pcp,
            }
        )
        return self.patient_frame

    def _at_least(self, mask: np.ndarray, eligible: np.ndarray, count: int) -> None:
        """Set ``mask`` on random ``eligible`` rows until at least ``count`` are set."""
        short = count - int(mask.sum())
        pool = np.flatnonzero(eligible & ~mask)
        if short > 0 and len(pool):
            mask[self.rng.choice(pool, size=min(short, len(pool)), replace=False)] = True

    def _fte_choice(self, candidates: np.ndarray, size: int) -> np.ndarray:
        if size == 0:
            return np.zeros(0, dtype=np.int64)
        if len(candidates) == 0:
            candidates = self.adult_pcps if len(self.adult_pcps) else self.panel_providers
        weights = self.provider_fte[candidates]
        return candidates[self.rng.choice(len(candidates), size=size, p=weights / weights.sum())]

    # ----------------------------------------------------------------- conditions

    def condition_flags(self) -> None:
        rng, n, age = self.rng, self.n, self.age
        band = np.select([age < 18, age < 40, age < 65], [0, 1, 2], 3)
        frailty = np.exp(0.55 * rng.standard_normal(n) - 0.15)
        flags: dict[str, np.ndarray] = {}
        for key, _code, _desc, prevalence in _CONDITIONS:
            p = np.asarray(prevalence)[band] * frailty
            if key == "diabetes":
                p = p * np.where(flags["obesity"], 1.8, 0.65)
            elif key == "hypertension":
                p = p * np.where(flags["diabetes"], 1.5, 1.0) * np.where(flags["obesity"], 1.3, 0.9)
            elif key == "ckd":
                p = p * np.where(flags["diabetes"] | flags["hypertension"], 2.0, 0.5)
            elif key == "heart_failure":
                p = p * np.where(flags["hypertension"], 1.8, 0.4)
            elif key == "copd":
                p = p * np.where(age >= 35, 1.0, 0.0)
            flags[key] = rng.random(n) < np.minimum(p, 0.95)
        self.flags = flags
        self.n_chronic = sum(flags[k].astype(int) for k in _CONDITION_KEYS if k != "obesity") + 0.5 * flags["obesity"]

    # ----------------------------------------------------------------- visits

    def visits(self) -> None:
        rng, n, today, age = self.rng, self.n, self.today, self.age
        # Expected visits over three years by age, plus more for chronic illness.
        base = np.select([age < 2, age < 6, age < 18, age < 40, age < 65, age < 80], [9.0, 5.0, 3.5, 4.0, 6.5, 9.0], 10.0)
        rate = (base + 2.6 * self.n_chronic) * 1.35
        lo = np.maximum(today - _years(3), self.dob)
        hi = self.last_day.copy()
        lo = np.where(self.unseen, np.maximum(today - _years(7), self.dob), lo)
        span = np.maximum((hi - lo).astype("int64") + 1, 0)
        expected = rate * span / 1096.0
        expected = np.where(self.unseen, np.minimum(expected, 3.0), expected)
        counts = rng.poisson(expected * rng.gamma(2.0, 0.5, size=n))
        counts[self.never | (span <= 0)] = 0
        patient = np.repeat(np.arange(n), counts)
        v = len(patient)

        band = np.select([age < 3, age < 18, age < 65], [0, 1, 2], 3)[patient]
        cumulative = _CLASS_P.cumsum(axis=1)[band]
        pick = (rng.random(v)[:, None] > cumulative).sum(axis=1)
        pick = np.minimum(pick, len(_CLASSES) - 1)
        # Heart failure and COPD bring more emergency and inpatient care.
        frail = (self.flags["heart_failure"] | self.flags["copd"])[patient]
        bump = frail & (rng.random(v) < 0.06)
        pick[bump] = np.where(rng.random(int(bump.sum())) < 0.5, EMERGENCY, INPATIENT)
        klass = _CLASSES[pick]
        primary = _PRIMARY[pick]

        day = _uniform_days(rng, lo[patient], hi[patient])
        weekday = _weekday(day)
        shifted = day - np.where(weekday == 5, 1, np.where(weekday == 6, 2, 0)).astype("timedelta64[D]")
        day = np.where(primary & (shifted >= lo[patient]), shifted, day)
        slot = rng.integers(0, 27, size=v)
        minutes = np.where(primary, 8 * 60 + 20 * slot, rng.integers(0, 24 * 60, size=v))
        start = _at_time(day, minutes)
        length = np.select(
            [pick == INPATIENT, (pick == EMERGENCY) | (pick == URGENTCARE)],
            [rng.integers(1, 6, size=v) * 24 * 60, rng.integers(90, 360, size=v)],
            rng.integers(15, 41, size=v),
        )
        end = start + (length * 60).astype("timedelta64[s]")

        # Who saw the patient: the home provider 70% of the time in primary care.
        home = self.home[patient]
        child_home = np.isin(home, self.peds)
        colleague = np.where(
            child_home,
            self._fte_choice(self.peds, v),
            self._fte_choice(self.adult_pcps if len(self.adult_pcps) else self.panel_providers, v),
        )
        provider = np.where(rng.random(v) < 0.70, home, colleague)
        cardiac = (self.flags["heart_failure"] | (self.flags["hypertension"] & (age >= 50)))[patient]
        to_cardio = (pick == OUTPATIENT) & cardiac & (rng.random(v) < 0.45)
        provider = np.where(to_cardio, self.cardiologists[rng.integers(0, len(self.cardiologists), size=v)], provider)
        acute = ~primary
        provider = np.where(acute, self.ed_docs[rng.integers(0, len(self.ed_docs), size=v)], provider)
        location = self.provider_location[provider]

        status = _const(v, "completed")
        u = rng.random(v)
        clinic = primary & (pick != VIRTUAL)
        status[clinic & (u < 0.055)] = "no-show"
        cancelled = clinic & (u >= 0.055) & (u < 0.095)
        status[cancelled] = "cancelled"
        completed = ~(clinic & (u < 0.095))
        cancelled_date = np.where(cancelled, day - rng.integers(0, 8, size=v).astype("timedelta64[D]"), np.datetime64("NaT"))

        child_visit = (_age_at(self.dob[patient], day) < 18)
        visit_type = np.empty(v, dtype=object)
        u = rng.random(v)
        well = pick == WELLNESS
        visit_type[well] = _where(child_visit[well], "Well child", "Annual physical")
        amb = pick == AMBULATORY
        chronic_patient = (self.n_chronic >= 1)[patient]
        sick = amb & ~(chronic_patient & (u < 0.65)) & (u < 0.85)
        visit_type[amb] = "Follow-up"
        visit_type[sick] = "Sick visit"
        out = pick == OUTPATIENT
        visit_type[out] = _where(to_cardio[out], "Cardiology consult", "Procedure visit")
        visit_type[pick == VIRTUAL] = "Telehealth visit"
        visit_type[pick == URGENTCARE] = "Urgent care visit"
        visit_type[pick == EMERGENCY] = "Emergency department visit"
        visit_type[pick == INPATIENT] = "Hospital admission"
        reason_index = rng.integers(0, len(_SICK_REASONS), size=v)
        with_reason = sick | (pick == URGENTCARE) | (pick == EMERGENCY)
        reason_code = np.array([r[0] for r in _SICK_REASONS], dtype=object)[reason_index]
        reason = np.array([r[1] for r in _SICK_REASONS], dtype=object)[reason_index]
        reason_code[~with_reason] = None
        reason[~with_reason] = None

        order = np.lexsort((start, patient))
        self.v_patient = patient[order]
        self.v_start = start[order]
        self.v_day = self.v_start.astype("datetime64[D]")
        self.v_class = klass[order]
        self.v_code = pick[order]
        self.v_primary = primary[order]
        self.v_status = status[order]
        self.v_provider = provider[order]
        self.v_ids = _ids("DV", v, 8)
        self.visit_frame = pd.DataFrame(
            {
                "external_id": self.v_ids,
                "patient_ref": self.patient_ids[self.v_patient],
                "provider_ref": self.provider_ids[self.v_provider],
                "location_ref": location[order],
                "start": self.v_start,
                "end": end[order],
                "visit_class": self.v_class,
                "visit_type": visit_type[order],
                "status": self.v_status,
                "cancelled_date": cancelled_date[order].astype("datetime64[s]"),
                "reason_code": reason_code[order],
                "reason": reason[order],
            }
        )
        self.v_completed = completed[order]
        self.v_age = _age_at(self.dob[self.v_patient], self.v_day)

    # ----------------------------------------------------------------- appointments

    def appointments(self) -> pd.DataFrame:
        """Scheduled visits on the working days of the next two weeks (as_of included)."""
        rng, today = self.rng, self.today
        days = today + np.arange(0, 15).astype("timedelta64[D]")
        days = days[_weekday(days) < 5]
        # Small demo practices get proportionally fewer appointments than a full panel would.
        fill = min(1.0, self.n / (1_500.0 * max(1, len(self.panel_providers))))
        bookable = np.flatnonzero(self.active & ~self.unseen)
        if len(bookable) == 0:
            self.appointment_frame = self.visit_frame.iloc[0:0].copy()
            return self.appointment_frame
        by_home = pd.Series(bookable).groupby(self.home[bookable]).apply(lambda s: s.to_numpy())
        parts = []
        for provider in self.panel_providers:
            fte = self.provider_fte[provider]
            workdays_per_week = max(2, int(round(fte * 5)))
            off = rng.permutation(5)[: 5 - workdays_per_week]
            mine = days[~np.isin(_weekday(days), off)]
            per_day = np.round(rng.integers(16, 21, size=len(mine)) * fill).astype(int)
            per_day = np.maximum(per_day, 1)
            total = int(per_day.sum())
            slots = np.argsort(rng.random((len(mine), 27)), axis=1)
            keep = np.arange(27)[None, :] < per_day[:, None]
            day_index, slot_index = np.nonzero(keep)
            slot = slots[day_index, slot_index]
            panel = by_home.get(provider, np.zeros(0, dtype=np.int64))
            kids_only = self.provider_kind[provider] == "peds"
            pool = bookable[self.child[bookable]] if kids_only else bookable
            own = rng.random(total) < 0.85
            patient = np.where(
                own & (len(panel) > 0),
                panel[rng.integers(0, max(1, len(panel)), size=total)] if len(panel) else 0,
                pool[rng.integers(0, len(pool), size=total)] if len(pool) else bookable[0],
            )
            parts.append(pd.DataFrame({"patient": patient, "provider": provider, "day": mine[day_index], "slot": slot}))
        # New patients with no history yet: some are booked for a first visit.
        newcomers = np.flatnonzero(self.never)
        newcomers = newcomers[rng.random(len(newcomers)) < 0.3]
        if len(newcomers):
            new_provider = self.home[newcomers]
            parts.append(
                pd.DataFrame(
                    {
                        "patient": newcomers,
                        "provider": new_provider,
                        "day": days[rng.integers(0, len(days), size=len(newcomers))],
                        "slot": rng.integers(0, 27, size=len(newcomers)),
                    }
                )
            )
        booked = pd.concat(parts, ignore_index=True)
        booked = booked.drop_duplicates(["patient", "day"]).drop_duplicates(["provider", "day", "slot"])
        booked = booked.sort_values(["day", "provider", "slot"], kind="stable").reset_index(drop=True)
        a = len(booked)
        patient = booked["patient"].to_numpy()
        provider = booked["provider"].to_numpy()
        day = booked["day"].to_numpy().astype("datetime64[D]")
        start = _at_time(day, 8 * 60 + 20 * booked["slot"].to_numpy())
        child = self.child[patient]
        u = rng.random(a)
        new_patient = self.never[patient]
        visit_type = _where(
            new_patient,
            "New patient",
            _where(
                child,
                _where(u < 0.35, "Well child", _where(u < 0.70, "Sick visit", "Follow-up")),
                _where(u < 0.30, "Annual physical", _where(u < 0.78, "Follow-up", "Sick visit")),
            ),
        )
        klass = _where(np.isin(visit_type, ["Well child", "Annual physical"]), "wellness", "ambulatory")
        status = _const(a, "scheduled")
        cancelled = rng.random(a) < 0.04
        status[cancelled] = "cancelled"
        cancelled_date = np.where(cancelled, today - rng.integers(0, 6, size=a).astype("timedelta64[D]"), np.datetime64("NaT"))
        ids = _ids("DA", a, 7)
        self.appointment_frame = pd.DataFrame(
            {
                "external_id": ids,
                "patient_ref": self.patient_ids[patient],
                "provider_ref": self.provider_ids[provider],
                "location_ref": self.provider_location[provider],
                "start": start,
                "end": start + np.timedelta64(20 * 60, "s"),
                "visit_class": klass,
                "visit_type": visit_type,
                "status": status,
                "cancelled_date": cancelled_date.astype("datetime64[s]"),
                "reason_code": None,
                "reason": None,
            }
        )
        self.appointment_frame["reason_code"] = self.appointment_frame["reason_code"].astype(object)
        self.appointment_frame["reason"] = self.appointment_frame["reason"].astype(object)
        return self.appointment_frame

    # ----------------------------------------------------------------- observations

    def _one_visit_per_patient(self, mask: np.ndarray) -> np.ndarray:
        """Indices of one random visit per patient among the visits in ``mask``."""
        candidates = np.flatnonzero(mask)
        if len(candidates) == 0:
            return candidates
        shuffled = candidates[self.rng.permutation(len(candidates))]
        _, first = np.unique(self.v_patient[shuffled], return_index=True)
        return np.sort(shuffled[first])

    def observations(self) -> pd.DataFrame:
        rng, flags = self.rng, self.flags
        n, vp = self.n, self.v_patient
        v = len(vp)
        done = self.v_completed
        code = self.v_code
        age_v = self.v_age
        wellness = done & (code == WELLNESS)
        office = done & (code <= OUTPATIENT)
        parts: list[tuple[str, np.ndarray, np.ndarray, np.ndarray | None]] = []  # (key, visit idx, value_num, value_text)

        # Blood pressure at most in-person visits, from age 3.
        bp_visits = np.flatnonzero(done & (code != VIRTUAL) & (age_v >= 3) & (rng.random(v) < 0.72))
        htn = flags["hypertension"]
        sys_base = np.where(htn, rng.normal(131, 11, n), rng.normal(117, 9, n) + 0.25 * np.maximum(self.age - 40, 0))
        dia_base = np.where(htn, rng.normal(84, 8, n), rng.normal(74, 6, n))
        kid = self.age < 13
        sys_base = np.where(kid, rng.normal(102, 7, n), sys_base)
        dia_base = np.where(kid, rng.normal(62, 6, n), dia_base)
        noise = rng.normal(0, 8, len(bp_visits))
        sbp = np.round(np.clip(sys_base[vp[bp_visits]] + noise, 78, 220))
        dbp = np.round(np.clip(dia_base[vp[bp_visits]] + 0.45 * noise + rng.normal(0, 4, len(bp_visits)), 40, 130))
        dbp = np.minimum(dbp, sbp - 20)
        parts.append(("sbp", bp_visits, sbp, None))
        parts.append(("dbp", bp_visits, dbp, None))

        # BMI at wellness visits and some office visits, from age 2.
        bmi_visits = np.flatnonzero(office & (age_v >= 2) & (wellness | (rng.random(v) < 0.25)))
        obese = flags["obesity"]
        adult_bmi = np.where(obese, 30.0 + rng.exponential(5.0, n), np.clip(rng.normal(25.0, 2.8, n), 17.5, 29.9))
        child_bmi = np.where(obese, rng.normal(25.0, 3.0, n), np.clip(rng.normal(17.3, 2.0, n), 13.0, 24.0))
        bmi_base = np.where(self.age < 18, child_bmi, adult_bmi)
        bmi = np.round(bmi_base[vp[bmi_visits]] + rng.normal(0, 0.5, len(bmi_visits)), 1)
        parts.append(("bmi", bmi_visits, bmi, None))

        # HbA1c: diabetics at most office visits (every 3-6 months), a screen for some adults.
        diabetic = flags["diabetes"]
        a1c_mean = np.clip(rng.normal(7.7, 1.3, n), 5.6, 12.5)
        dm_visits = np.flatnonzero(office & diabetic[vp] & (rng.random(v) < 0.72))
        screen = np.flatnonzero(wellness & ~diabetic[vp] & (age_v >= 35) & (rng.random(v) < 0.18))
        a1c_visits = np.concatenate([dm_visits, screen])
        a1c = np.where(
            diabetic[vp[a1c_visits]],
            a1c_mean[vp[a1c_visits]] + rng.normal(0, 0.5, len(a1c_visits)),
            np.clip(rng.normal(5.5, 0.35, len(a1c_visits)), 4.4, 6.4),
        )
        parts.append(("hba1c", a1c_visits, np.round(np.clip(a1c, 4.2, 14.5), 1), None))

        # LDL: adult wellness visits, and lipid/diabetes follow-ups.
        lipid = flags["hyperlipidemia"] | diabetic
        ldl_visits = np.flatnonzero(
            (wellness & (age_v >= 20) & (rng.random(v) < 0.45)) | (office & lipid[vp] & (age_v >= 20) & (rng.random(v) < 0.15))
        )
        ldl_base = np.where(flags["hyperlipidemia"], rng.normal(138, 32, n), rng.normal(108, 25, n))
        ldl = np.round(np.clip(ldl_base[vp[ldl_visits]] + rng.normal(0, 12, len(ldl_visits)), 35, 290))
        parts.append(("ldl", ldl_visits, ldl, None))

        # Depression screening at wellness visits from age 12; PHQ-9 for depressed patients.
        depressed = flags["depression"]
        phq2_visits = np.flatnonzero(wellness & (age_v >= 12) & (rng.random(v) < 0.72))
        phq2 = np.where(
            depressed[vp[phq2_visits]],
            rng.integers(1, 7, len(phq2_visits)),
            rng.choice(7, len(phq2_visits), p=[0.70, 0.14, 0.08, 0.04, 0.02, 0.01, 0.01]),
        ).astype(float)
        parts.append(("phq2", phq2_visits, phq2, None))
        phq9_mean = np.clip(rng.normal(11, 5, n), 0, 27)
        phq9_visits = np.flatnonzero(office & depressed[vp] & (age_v >= 12) & (rng.random(v) < 0.45))
        phq9 = np.round(np.clip(phq9_mean[vp[phq9_visits]] + rng.normal(0, 3, len(phq9_visits)), 0, 27))
        parts.append(("phq9", phq9_visits, phq9, None))

        # Tobacco use from age 13.
        smoker = rng.choice(len(_SMOKING), size=n, p=_SMOKING_SHARES)
        smoker = np.where(self.age < 18, np.where(rng.random(n) < 0.97, 0, 3), smoker)
        smoker = np.where(flags["copd"] & (smoker == 0), 1, smoker)
        self.smoker = smoker
        tob_visits = np.flatnonzero(
            done & (age_v >= 13) & ((wellness & (rng.random(v) < 0.9)) | ((code == AMBULATORY) & (rng.random(v) < 0.1)))
        )
        tob_text = np.array(_SMOKING, dtype=object)[smoker[vp[tob_visits]]]
        parts.append(("tobacco", tob_visits, np.full(len(tob_visits), np.nan), tob_text))

        # FIT for some 45-75 year olds, in the last year or the two before it.
        today = self.today
        eligible = (self.age >= 45) & (self.age <= 75)
        recent = self._one_visit_per_patient(office & eligible[vp] & (self.v_day >= today - 365 * _DAY))
        recent = recent[rng.random(len(recent)) < 0.22]
        older = self._one_visit_per_patient(office & eligible[vp] & (self.v_day < today - 365 * _DAY))
        older = older[rng.random(len(older)) < 0.12]
        fit_visits = np.concatenate([recent, older])
        fit_text = _where(rng.random(len(fit_visits)) < 0.95, "Negative", "Positive")
        parts.append(("fit", fit_visits, np.full(len(fit_visits), np.nan), fit_text))

        # Cervical cytology (women 21-64) and HPV co-testing (30-65).
        women = self.female & (self.age >= 21) & (self.age <= 64)
        cyto_visits = self._one_visit_per_patient(office & women[vp])
        cyto_visits = cyto_visits[rng.random(len(cyto_visits)) < 0.55]
        cyto_text = _where(
            rng.random(len(cyto_visits)) < 0.94,
            "Negative for intraepithelial lesion or malignancy",
            "Atypical squamous cells of undetermined significance",
        )
        parts.append(("cytology", cyto_visits, np.full(len(cyto_visits), np.nan), cyto_text))
        cotest = cyto_visits[(age_v[cyto_visits] >= 30) & (rng.random(len(cyto_visits)) < 0.6)]
        hpv_text = _where(rng.random(len(cotest)) < 0.9, "Negative", "Positive")
        parts.append(("hpv", cotest, np.full(len(cotest), np.nan), hpv_text))
        self.pap_visits = cyto_visits[rng.random(len(cyto_visits)) < 0.7]

        frames = []
        for key, visit_index, number, text in parts:
            code, description, unit, category = _OBS[key]
            m = len(visit_index)
            if text is None:
                # Few distinct values (blood pressures, BMIs...): format each once and share it.
                distinct, inverse = np.unique(number, return_inverse=True)
                value = np.array([f"{x:g}" for x in distinct] + [None], dtype=object)[:-1][inverse.reshape(-1)] if m else np.zeros(0, dtype=object)
            else:
                value = text
            frames.append(
                pd.DataFrame(
                    {
                        "_visit": visit_index,
                        "category": category,
                        "code": code,
                        "description": description,
                        "value": value,
                        "value_num": number.astype(float),
                        "unit": unit,
                    }
                )
            )
        obs = pd.concat(frames, ignore_index=True)
        obs = obs.sort_values(["_visit", "code"], kind="stable").reset_index(drop=True)
        index = obs.pop("_visit").to_numpy()
        obs.insert(0, "patient_ref", self.patient_ids[vp[index]])
        obs.insert(1, "visit_ref", self.v_ids[index])
        obs.insert(2, "date", self.v_start[index])
        obs.insert(4, "code_system", LOINC)
        for column in ("category", "code", "description", "unit", "code_system"):
            obs[column] = obs[column].astype(object)
        self.observation_frame = obs
        return obs

    # ----------------------------------------------------------------- procedures

    def procedures(self) -> pd.DataFrame:
        rng, n, today, age = self.rng, self.n, self.today, self.age
        dob, last_day = self.dob, self.last_day
        rows: list[pd.DataFrame] = []

        def add(key: str, who: np.ndarray, lo: np.ndarray, hi: np.ndarray, visit: np.ndarray | None = None) -> None:
            lo = np.broadcast_to(np.asarray(lo, dtype="datetime64[D]"), who.shape)
            hi = np.broadcast_to(np.asarray(hi, dtype="datetime64[D]"), who.shape)
            ok = hi >= lo
            who, lo, hi = who[ok], lo[ok], hi[ok]
            if visit is not None:
                visit = visit[ok]
            if len(who) == 0:
                return
            day = _uniform_days(rng, lo, hi)
            options = _PROCEDURES[key]
            choice = rng.integers(0, len(options), size=len(who))
            start = _at_time(day, rng.integers(7 * 60, 16 * 60, size=len(who)))
            if visit is not None:
                start = self.v_start[visit]
            rows.append(
                pd.DataFrame(
                    {
                        "patient_ref": self.patient_ids[who],
                        "visit_ref": self.v_ids[visit] if visit is not None else np.full(len(who), None, dtype=object),
                        "date": start,
                        "code_system": np.array([o[0] for o in options], dtype=object)[choice],
                        "code": np.array([o[1] for o in options], dtype=object)[choice],
                        "description": np.array([o[2] for o in options], dtype=object)[choice],
                    }
                )
            )

        # Colorectal screening (USPSTF: 45-75): colonoscopy within 10 years, the rest within 5.
        u = rng.random(n)
        older = (age >= 50) & (age <= 85)
        colo = ((older & (u < 0.42)) | ((age >= 45) & (age < 50) & (u < 0.15)))
        who = np.flatnonzero(colo)
        add("colonoscopy", who, np.maximum(today - _years(10), dob[who] + _years(44)), last_day[who])
        who = np.flatnonzero(older & (u >= 0.42) & (u < 0.44))
        add("sigmoidoscopy", who, today - _years(5), last_day[who])
        who = np.flatnonzero(older & (u >= 0.44) & (u < 0.455))
        add("ct_colonography", who, today - _years(5), last_day[who])

        # Breast cancer screening (USPSTF: women 40-74, every two years).
        women = self.female
        u = rng.random(n)
        screened = women & (((age >= 50) & (age <= 74) & (u < 0.58)) | ((age >= 40) & (age < 50) & (u < 0.35)))
        who = np.flatnonzero(screened)
        add("mammography", who, np.maximum(today - 820 * _DAY, dob[who] + _years(40)), last_day[who])
        lapsed = women & (age >= 42) & (age <= 76) & ~screened & (u < 0.85)
        who = np.flatnonzero(lapsed)
        add("mammography", who, np.maximum(today - _years(5), dob[who] + _years(40)), np.minimum(today - 821 * _DAY, last_day[who]))

        # Pap smears at some of the visits with cervical cytology.
        pap = self.pap_visits
        if len(pap):
            add("pap", self.v_patient[pap], self.v_day[pap], self.v_day[pap], visit=pap)
        frame = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
            columns=["patient_ref", "visit_ref", "date", "code_system", "code", "description"]
        )
        frame["visit_ref"] = frame["visit_ref"].astype(object)
        frame = frame.sort_values(["patient_ref", "date"], kind="stable").reset_index(drop=True)
        self.procedure_frame = frame
        return frame

    # ----------------------------------------------------------------- immunizations

    def immunizations(self) -> pd.DataFrame:
        rng, n, today, age, dob = self.rng, self.n, self.today, self.age, self.dob
        last_day = self.last_day
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []  # (patient, day, cvx)

        # Childhood series for everyone under 19: most complete, some behind, a few unvaccinated.
        kids = np.flatnonzero(age < 19)
        if len(kids):
            kind = rng.choice(3, size=len(kids), p=[0.76, 0.19, 0.05])
            p_dose = np.array([0.985, 0.72, 0.06])[kind]
            hib_t = rng.random(len(kids)) < 0.5
            rv1 = rng.random(len(kids)) < 0.4
            for series, codes, months in _CHILD_SERIES:
                if series == "hib_omp":
                    who_mask = ~hib_t
                elif series == "hib_t":
                    who_mask = hib_t
                elif series == "rv5":
                    who_mask = ~rv1
                elif series == "rv1":
                    who_mask = rv1
                else:
                    who_mask = np.ones(len(kids), dtype=bool)
                code_pick = rng.choice(len(codes), size=len(kids), p=[0.6, 0.3, 0.1] if len(codes) == 3 else
                                       ([0.85, 0.15] if len(codes) == 2 else None))
                for m in months:
                    due = dob[kids] + np.round(m * 30.44).astype("int64") * _DAY
                    day = due + rng.exponential(14, len(kids)).astype("int64") * _DAY
                    given = who_mask & (rng.random(len(kids)) < p_dose) & (day <= last_day[kids])
                    parts.append((kids[given], day[given], np.array(codes, dtype=object)[code_pick[given]]))
            self.child_series_kind = pd.Series(kind, index=kids)

        # Influenza: the current season (from August 1) and the three before it.
        season_year = self.as_of.year if self.as_of.month >= 8 else self.as_of.year - 1
        tendency = rng.choice(3, size=n, p=[0.36, 0.30, 0.34])
        p_flu = np.array([0.88, 0.38, 0.03])[tendency] + np.where(age >= 65, 0.12, 0.0)
        for back in range(4):
            year = season_year - back
            start = np.datetime64(f"{year}-08-15", "D")
            stop = min(today, np.datetime64(f"{year + 1}-02-28", "D"))
            if back == 0:
                start = min(start, today)
            who = np.flatnonzero(rng.random(n) < np.minimum(p_flu, 0.97))
            lo = np.maximum(np.full(len(who), start), dob[who] + 183 * _DAY)
            hi = np.minimum(np.full(len(who), stop), last_day[who])
            ok = hi >= lo
            who, lo, hi = who[ok], lo[ok], hi[ok]
            day = _uniform_days(rng, lo, hi)
            at = _age_at(dob[who], day)
            current = back == 0
            adult_codes = np.array(["150", "158", "185"] if current else ["140", "141", "150", "158"], dtype=object)
            code = adult_codes[rng.integers(0, len(adult_codes), size=len(who))]
            code = _where(at < 3, _where(rng.random(len(who)) < 0.5, "140", "150"), code)
            code = _where((at >= 65) & (rng.random(len(who)) < 0.7), "197", code)
            parts.append((who, day, code))

        # Pneumococcal vaccines from 65, and for younger adults with chronic lung/heart/diabetes.
        elder = np.flatnonzero((age >= 65) & (rng.random(n) < 0.68))
        plan = rng.choice(3, size=len(elder), p=[0.4, 0.2, 0.4])
        first_lo = dob[elder] + _years(65)
        first_day = _uniform_days(rng, first_lo, np.maximum(first_lo, last_day[elder]))
        ok = first_day <= last_day[elder]
        first_code = np.array(["216", "215", "133"], dtype=object)[plan]
        parts.append((elder[ok], first_day[ok], first_code[ok]))
        second = ok & (plan > 0) & (first_day + 365 * _DAY <= last_day[elder])
        parts.append((elder[second], first_day[second] + 365 * _DAY, _const(int(second.sum()), "33")))
        risk = (self.flags["diabetes"] | self.flags["copd"] | self.flags["heart_failure"] | self.flags["asthma"])
        younger = np.flatnonzero(risk & (age >= 19) & (age < 65) & (rng.random(n) < 0.3))
        day = _uniform_days(rng, np.maximum(today - _years(6), dob[younger] + _years(19)), np.maximum(today - _years(6), last_day[younger]))
        ok = day <= last_day[younger]
        parts.append((younger[ok], day[ok], _where(rng.random(int(ok.sum())) < 0.5, "33", "216")))

        patient = np.concatenate([p[0] for p in parts])
        day = np.concatenate([p[1] for p in parts])
        cvx = np.concatenate([p[2] for p in parts])
        minutes = rng.integers(8 * 60, 17 * 60, size=len(patient))
        frame = pd.DataFrame(
            {
                "patient_ref": self.patient_ids[patient],
                "visit_ref": np.full(len(patient), None, dtype=object),
                "date": _at_time(day, minutes),
                "cvx": cvx,
                "description": pd.Series(cvx).map(_CVX).to_numpy(dtype=object),
                "_p": patient,
            }
        )
        frame = frame.sort_values(["_p", "date"], kind="stable").drop(columns="_p").reset_index(drop=True)
        self.immunization_frame = frame
        return frame

    # ----------------------------------------------------------------- conditions and medications

    def conditions(self) -> pd.DataFrame:
        rng, today, dob = self.rng, self.today, self.dob
        parts = []
        # A random completed visit per patient in the window: where recent diagnoses were made.
        any_visit = self._one_visit_per_patient(self.v_completed & self.v_primary)
        visit_of = np.full(self.n, -1, dtype=np.int64)
        visit_of[self.v_patient[any_visit]] = any_visit
        onset_by_key = {}
        for key, code, description, _prevalence in _CONDITIONS:
            who = np.flatnonzero(self.flags[key])
            min_age = {"asthma": 2, "obesity": 3, "depression": 10}.get(key, 18)
            if key == "colorectal_cancer":
                min_age = 40
            lo = np.maximum(dob[who] + _years(min_age), today - _years(20))
            lo = np.minimum(lo, self.last_day[who])
            lo = np.maximum(lo, dob[who])
            onset = _uniform_days(rng, lo, np.maximum(lo, self.last_day[who]))
            visit = visit_of[who]
            recent = (onset >= today - _years(3)) & (visit >= 0)
            onset = np.where(recent, self.v_day[np.maximum(visit, 0)], onset)
            onset_by_key[key] = pd.Series(onset, index=who)
            parts.append(
                pd.DataFrame(
                    {
                        "patient_ref": self.patient_ids[who],
                        "visit_ref": _where(recent, self.v_ids[np.maximum(visit, 0)], None),
                        "code_system": SNOMED,
                        "code": code,
                        "description": description,
                        "onset": onset.astype("datetime64[s]"),
                        "resolved": np.full(len(who), np.datetime64("NaT"), dtype="datetime64[s]"),
                        "_p": who,
                    }
                )
            )
        frame = pd.concat(parts, ignore_index=True)
        for column in ("code_system", "code", "description"):
            frame[column] = frame[column].astype(object)
        frame = frame.sort_values(["_p", "onset"], kind="stable").drop(columns="_p").reset_index(drop=True)
        self.onset_by_key = onset_by_key
        self.condition_frame = frame
        return frame

    def medications(self) -> pd.DataFrame:
        rng, n, age = self.rng, self.n, self.age
        flags = self.flags
        parts = []

        def add(drug: str, who: np.ndarray, after: np.ndarray) -> None:
            if len(who) == 0:
                return
            lo = np.minimum(after + 7 * _DAY, self.last_day[who])
            start_day = _uniform_days(rng, lo, np.minimum(lo + 240 * _DAY, self.last_day[who]))
            stopped = rng.random(len(who)) < 0.12
            stop_day = start_day + rng.integers(60, 700, size=len(who)) * _DAY
            stopped &= stop_day <= self.last_day[who]
            code, description = _MEDICATIONS[drug]
            parts.append(
                pd.DataFrame(
                    {
                        "patient_ref": self.patient_ids[who],
                        "visit_ref": np.full(len(who), None, dtype=object),
                        "start": _at_time(start_day, rng.integers(8 * 60, 17 * 60, size=len(who))),
                        "stop": np.where(stopped, stop_day, np.datetime64("NaT")).astype("datetime64[s]"),
                        "code_system": RXNORM,
                        "code": code,
                        "description": description,
                        "_p": who,
                    }
                )
            )

        def onset(key: str, who: np.ndarray) -> np.ndarray:
            return self.onset_by_key[key].reindex(who).to_numpy().astype("datetime64[D]")

        lipid = flags["hyperlipidemia"] & (age >= 21) & (rng.random(n) < 0.65)
        dm_statin = flags["diabetes"] & (age >= 40) & (age <= 75) & (rng.random(n) < 0.6)
        statin = np.flatnonzero(lipid | dm_statin)
        after = np.where(
            lipid[statin],
            onset("hyperlipidemia", statin) if len(statin) else np.zeros(0, dtype="datetime64[D]"),
            self.today - _years(3),
        ).astype("datetime64[D]")
        after = np.where(np.isnat(after), self.today - _years(3), after)
        drug = rng.choice(3, size=len(statin), p=[0.55, 0.2, 0.25])
        for index, name in enumerate(["atorvastatin", "simvastatin", "rosuvastatin"]):
            chosen = drug == index
            add(name, statin[chosen], after[chosen])
        met = np.flatnonzero(flags["diabetes"] & (rng.random(n) < 0.75))
        add("metformin", met, onset("diabetes", met))
        lis = np.flatnonzero(
            (flags["hypertension"] & (rng.random(n) < 0.45)) | (flags["heart_failure"] & (rng.random(n) < 0.5))
        )
        lis_after = np.where(flags["hypertension"][lis], onset("hypertension", lis), self.today - _years(3))
        lis_after = np.where(np.isnat(lis_after), self.today - _years(3), lis_after).astype("datetime64[D]")
        add("lisinopril", lis, lis_after)
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["patient_ref", "visit_ref", "start", "stop", "code_system", "code", "description", "_p"]
        )
        for column in ("code_system", "code", "description"):
            frame[column] = frame[column].astype(object)
        frame = frame.sort_values(["_p", "start"], kind="stable").drop(columns="_p").reset_index(drop=True)
        self.medication_frame = frame
        return frame


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
    with registry.engine.connect() as conn:
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
