"""Names, places, clinical vocabulary, NPIs and column-wise date helpers of the demo practice."""

from __future__ import annotations

import unicodedata

import numpy as np

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
    pattern = f"{prefix}%0{width}d"  # %-formatting: about twice as fast as an f-string per id (1M visit ids)
    return np.array([pattern % i for i in range(start, start + n)], dtype=object)
