"""The demo generator, part two: vitals, labs, screenings, procedures, immunizations, conditions, medications."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from panelmanager.core.demo.vocabulary import (
    _CHILD_SERIES,
    _CONDITIONS,
    _CVX,
    _DAY,
    _MEDICATIONS,
    _OBS,
    _PROCEDURES,
    _SMOKING,
    _SMOKING_SHARES,
    AMBULATORY,
    LOINC,
    OUTPATIENT,
    RXNORM,
    SNOMED,
    VIRTUAL,
    WELLNESS,
    _age_at,
    _at_time,
    _const,
    _uniform_days,
    _where,
    _years,
)


class _ClinicalFacts:
    """Methods of ``_Generator`` that add the clinical rows (they use the visits it generated)."""

    # What ``_Generator`` (practice.py) has set before these methods run: the practice...
    n: int
    as_of: dt.date
    today: np.datetime64[dt.date]
    rng: np.random.Generator
    # ...one entry per patient...
    patient_ids: np.ndarray
    dob: np.ndarray
    age: np.ndarray
    female: np.ndarray
    last_day: np.ndarray
    flags: dict[str, np.ndarray]
    # ...and one per visit (sorted by start).
    v_ids: np.ndarray
    v_patient: np.ndarray
    v_start: np.ndarray
    v_day: np.ndarray
    v_code: np.ndarray
    v_primary: np.ndarray
    v_completed: np.ndarray
    v_age: np.ndarray
    # ...and where this chunk of patients starts (``_Generator.chunk``).
    patient_offset: int
    visit_offset: int

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
            loinc, description, unit, category = _OBS[key]
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
                        "code": loinc,
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
        obs["_patient"] = vp[index] + self.patient_offset  # hidden integer references (loading.py)
        obs["_visit"] = index + self.visit_offset
        for column in ("category", "code", "description", "unit", "code_system"):
            obs[column] = obs[column].astype(object)
        self.observation_frame = obs
        return obs

    # ----------------------------------------------------------------- procedures

    def procedures(self) -> pd.DataFrame:
        rng, n, today, age = self.rng, self.n, self.today, self.age
        dob, last_day = self.dob, self.last_day
        rows: list[pd.DataFrame] = []

        def add(
            key: str, who: np.ndarray, lo: np.ndarray | np.datetime64, hi: np.ndarray | np.datetime64, visit: np.ndarray | None = None
        ) -> None:
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
                        "_patient": who + self.patient_offset,
                        "_visit": visit + self.visit_offset if visit is not None else np.full(len(who), -1),
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
            columns=["patient_ref", "visit_ref", "date", "code_system", "code", "description", "_patient", "_visit"]
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
                "_patient": patient + self.patient_offset,
                "_visit": np.full(len(patient), -1),
            }
        )
        frame = frame.sort_values(["_patient", "date"], kind="stable").reset_index(drop=True)
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
                        "_patient": who + self.patient_offset,
                        "_visit": np.where(recent, visit + self.visit_offset, -1),
                    }
                )
            )
        frame = pd.concat(parts, ignore_index=True)
        for column in ("code_system", "code", "description"):
            frame[column] = frame[column].astype(object)
        frame = frame.sort_values(["_patient", "onset"], kind="stable").reset_index(drop=True)
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
                        "_patient": who + self.patient_offset,
                        "_visit": np.full(len(who), -1),
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
            columns=["patient_ref", "visit_ref", "start", "stop", "code_system", "code", "description", "_patient",
                     "_visit"]
        )
        for column in ("code_system", "code", "description"):
            frame[column] = frame[column].astype(object)
        frame = frame.sort_values(["_patient", "start"], kind="stable").reset_index(drop=True)
        self.medication_frame = frame
        return frame
