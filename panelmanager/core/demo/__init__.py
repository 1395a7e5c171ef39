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
visits and ~2M observations are the design size), 5,000 patients at a time, and written
straight into the registry's tables with the values the importers' ``write_parsed`` would
store for the same rows (source ``"demo"``, natural keys, search keys; no row hashes, which
make a later import compare every demo row): ids are computed, so nothing is looked up,
and memory stays bounded (issue 16). Loading the same
practice twice changes nothing. A registry that holds
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

from panelmanager.core.demo.export import write_pm_csvs, write_synthea_folder
from panelmanager.core.demo.loading import DemoRefused, generate_practice, load_demo
from panelmanager.core.demo.practice import DemoPractice
from panelmanager.core.demo.vocabulary import SOURCE, is_valid_npi, npi_check_digit

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
