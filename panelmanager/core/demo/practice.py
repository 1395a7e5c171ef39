"""The demo generator, part one: locations, providers, patients, conditions, visits, appointments."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from panelmanager.core.demo.clinical import _ClinicalFacts
from panelmanager.core.demo.vocabulary import (
    _AREA_CODES,
    _CITIES,
    _CLASS_P,
    _CLASSES,
    _CONDITION_KEYS,
    _CONDITIONS,
    _DAY,
    _EMAIL_DOMAINS,
    _FIRST_F,
    _FIRST_M,
    _GROUP_SHARES,
    _LAST,
    _LOCATION_NAMES,
    _PRIMARY,
    _SICK_REASONS,
    _STATE,
    _STREET_KINDS,
    _STREETS,
    AMBULATORY,
    EMERGENCY,
    INPATIENT,
    OUTPATIENT,
    URGENTCARE,
    VIRTUAL,
    WELLNESS,
    _age_at,
    _ascii,
    _at_time,
    _const,
    _ids,
    _pick,
    _uniform_days,
    _weekday,
    _where,
    _years,
    npi_check_digit,
)

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


_VISIT_COLUMNS = ["external_id", "patient_ref", "provider_ref", "location_ref", "start", "end", "visit_class",
                  "visit_type", "status", "cancelled_date", "reason_code", "reason", "_patient", "_visit", "_provider",
                  "_location"]


class _Generator(_ClinicalFacts):
    def __init__(self, patients: int, seed: int, as_of: dt.date) -> None:
        if patients < 1:
            raise ValueError("a demo practice needs at least one patient")
        self.n = int(patients)
        self.seed = int(seed)
        self.as_of = as_of
        self.today = np.datetime64(as_of, "D")
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed % (1 << 63), 0x50A4E1]))
        self.patient_offset = 0  # a chunk's first patient (``chunk``)
        self.visit_offset = 0  # past visits generated before this chunk

    # Per-patient arrays a chunk of patients takes its slice of.
    _PER_PATIENT = ("dob", "age", "female", "spanish", "no_address", "status", "deceased", "moved", "unseen",
                    "never", "last_day", "active", "child", "home", "patient_ids", "n_chronic")

    def chunk(self, index: int, lo: int, hi: int, visit_offset: int) -> _Generator:
        """The same generator restricted to patients ``lo:hi``, with a random stream of its own.

        Visits and everything recorded at them depend only on the patient, so the practice is
        generated (and loaded) a chunk of patients at a time: memory stays bounded whatever
        the size. Each chunk's stream is derived from the seed and the chunk's number, so the
        same ``(patients, seed, as_of)`` still gives the same practice.
        """
        part = object.__new__(type(self))
        part.__dict__.update(self.__dict__)
        for name in self._PER_PATIENT:
            setattr(part, name, getattr(self, name)[lo:hi])
        part.flags = {key: value[lo:hi] for key, value in self.flags.items()}
        part.n = hi - lo
        part.patient_offset = lo
        part.visit_offset = visit_offset
        part.rng = np.random.default_rng(np.random.SeedSequence([self.seed % (1 << 63), 0x50A4E1, 1 + index]))
        return part

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
        location_index = {ref: i for i, ref in enumerate(self.location_ids)}
        self.provider_location_index = np.array(
            [location_index.get(ref, -1) for ref in self.provider_location], dtype=np.int64)
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
        pm_index = home.copy()
        stale = rng.random(n) < 0.08
        pm_index[stale] = self.panel_providers[rng.integers(0, len(self.panel_providers), size=n)][stale]
        pm_index[rng.random(n) < 0.25] = -1
        pm_pcp = self.provider_ids[np.maximum(pm_index, 0)].copy()
        pm_pcp[pm_index < 0] = None

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
                "_patient": np.arange(n),
                "_pm_provider": pm_index,
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
        self.v_ids = _ids("DV", v, 8, start=self.visit_offset + 1)
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
                # Hidden integer references (loading.py turns them into registry ids).
                "_patient": self.v_patient + self.patient_offset,
                "_visit": np.arange(self.visit_offset, self.visit_offset + v),
                "_provider": self.v_provider,
                "_location": self.provider_location_index[self.v_provider],
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
            self.appointment_frame = pd.DataFrame(
                {name: np.zeros(0, dtype=np.int64 if name.startswith("_") else object) for name in _VISIT_COLUMNS})
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
                "_patient": patient,
                "_visit": np.arange(a),
                "_provider": provider,
                "_location": self.provider_location_index[provider],
            }
        )
        self.appointment_frame["reason_code"] = self.appointment_frame["reason_code"].astype(object)
        self.appointment_frame["reason"] = self.appointment_frame["reason"].astype(object)
        return self.appointment_frame
