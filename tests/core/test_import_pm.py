"""Importing practice-management exports (CSV/XLSX): dirty files in, clean registry rows out.

Every test writes its own small export into tmp_path and checks exactly which rows
were imported and which were rejected, with which reason.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select

from panelmanager.core import models
from panelmanager.core.importers import ImportFileError, run_import
from panelmanager.core.importers.pm import parse_pm_file
from panelmanager.core.stats import registry_stats

AS_OF = dt.date(2024, 6, 1)


def write(folder: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = folder / name
    path.write_bytes(text.encode(encoding))
    return path


def parse(path: Path, **kwargs):
    kwargs.setdefault("as_of", AS_OF)
    return parse_pm_file(path, profile=kwargs.pop("profile", None), mapping=kwargs.pop("mapping", {}), **kwargs)


def rejected(parsed) -> list[tuple[int, str]]:
    return [(r.source_row, r.reason) for r in parsed.rejected]


def column(parsed, frame: str, name: str) -> list:
    return [None if pd.isna(v) else v for v in parsed.frames[frame][name].tolist()]


def dates(parsed, frame: str, name: str) -> list:
    return [None if pd.isna(v) else pd.Timestamp(v).date() for v in parsed.frames[frame][name].tolist()]


PATIENTS = """MRN,Last Name,First Name,DOB,Sex,Phone,Email,Zip
000123,Garcia,Maria,04/12/1975,F,413-555-1234,maria@mail.com,01103
000124,Lee,Ann,1990-01-02,F,(413) 555-9876,,02134
000125,Smith,John,19500102,M,,john@mail.com,01104
"""


# --------------------------------------------------------------------------- layout


def test_title_lines_blank_lines_and_footer_are_not_data(tmp_path):
    text = (
        "Springfield Family Medicine\n"
        "Active Patient List - printed 05/31/2024\n"
        "\n"
        + PATIENTS
        + "\n"
        "Total: 3\n"
        "Report generated 05/31/2024 10:02 AM by jsmith\n"
        "3 patients\n"
    )
    parsed = parse(write(tmp_path, "patients.csv", text))
    assert parsed.format == "pm-csv" and parsed.profile == "generic" and parsed.source == "pm"
    assert parsed.rows_read == 3
    assert column(parsed, "patients", "mrn") == ["000123", "000124", "000125"]
    # _row is the physical line: header on line 4, data on lines 5-7.
    assert column(parsed, "patients", "_row") == [5, 6, 7]
    assert column(parsed, "patients", "_file") == [str(tmp_path / "patients.csv")] * 3
    assert parsed.rejected == []


def test_a_row_holding_only_its_first_cell_and_repeated_page_headers_are_dropped(tmp_path):
    text = (
        "MRN,Last Name,First Name,DOB\n"
        "1,Garcia,Maria,04/12/1975\n"
        "Page 1 of 2,,,\n"
        "MRN,Last Name,First Name,DOB\n"
        "2,Lee,Ann,1990-01-02\n"
        "Dr. Smith's patients\n"
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "external_id") == ["1", "2"]
    assert column(parsed, "patients", "_row") == [2, 5]
    assert parsed.rows_read == 2 and parsed.rejected == []


def test_line_breaks_inside_quoted_cells_keep_row_numbers_physical(tmp_path):
    text = 'MRN,Last Name,First Name,DOB,Address\n1,Garcia,Maria,04/12/1975,"12 Elm St\nApt 2"\n2,Lee,Ann,13/45/1990,5 Oak\n'
    parsed = parse(write(tmp_path, "p.csv", text))
    assert rejected(parsed) == [(4, "DOB '13/45/1990' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)")]
    assert column(parsed, "patients", "address1") == ["12 Elm St Apt 2"]


@pytest.mark.parametrize("delimiter", [",", "\t", ";", "|"])
def test_comma_tab_semicolon_and_pipe_files_read_the_same(tmp_path, delimiter):
    text = "Report title\n" + PATIENTS.replace(",", delimiter)
    parsed = parse(write(tmp_path, "p.txt", text))
    assert column(parsed, "patients", "last_name") == ["Garcia", "Lee", "Smith"]
    assert column(parsed, "patients", "phone_home") == ["(413) 555-1234", "(413) 555-9876", None]


def test_names_with_commas_in_a_tab_file_do_not_fool_the_delimiter_sniffer(tmp_path):
    text = "MRN\tPatient Name\tDOB\n1\tGARCIA, MARIA L\t04/12/1975\n2\tLEE, ANN\t01/02/1990\n"
    parsed = parse(write(tmp_path, "p.tsv", text))
    assert column(parsed, "patients", "last_name") == ["Garcia", "Lee"]
    assert column(parsed, "patients", "middle_name") == ["L", None]


# --------------------------------------------------------------------------- encodings


ACCENTED = "MRN,Last Name,First Name,DOB\n1,Peña,José,01/02/1980\n2,Müller,Zoë,03/04/1975\n3,Søren,André,1990-01-01\n"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "cp1252", "utf-16"])
def test_accented_names_come_out_right_in_every_encoding(tmp_path, encoding):
    parsed = parse(write(tmp_path, "p.csv", ACCENTED, encoding=encoding))
    assert column(parsed, "patients", "last_name") == ["Peña", "Müller", "Søren"]
    assert column(parsed, "patients", "first_name") == ["José", "Zoë", "André"]
    assert column(parsed, "patients", "mrn") == ["1", "2", "3"]  # a BOM does not stick to the first header


def test_a_binary_file_is_refused_with_a_clear_message(tmp_path):
    path = tmp_path / "export.csv"
    path.write_bytes(bytes(range(256)) * 40)
    with pytest.raises(ImportFileError) as error:
        parse(path)
    assert str(path) in str(error.value) and "CSV or Excel" in str(error.value)


def test_an_empty_file_is_refused(tmp_path):
    with pytest.raises(ImportFileError, match="empty"):
        parse(write(tmp_path, "empty.csv", "\n\n"))


# --------------------------------------------------------------------------- values


def test_dates_in_every_layout_and_bad_dates_rejected_with_column_value_and_format(tmp_path):
    text = (
        "Patient ID,Last Name,First Name,Date of Birth\n"
        "1,A,Ann,04/12/1975\n"
        "2,B,Bob,4/2/50\n"
        "3,C,Cy,1975-04-12\n"
        "4,D,Di,19750412\n"
        "5,E,Ed,13/45/1980\n"
        "6,F,Fay,unknown\n"
        "7,G,Gus,\n"
        "8,H,Hal,01/01/2030\n"
        "9,I,Ivy,01/01/1850\n"
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "external_id") == ["1", "2", "3", "4"]
    assert dates(parsed, "patients", "dob") == [dt.date(1975, 4, 12), dt.date(1950, 4, 2), dt.date(1975, 4, 12), dt.date(1975, 4, 12)]
    expected = "expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)"
    assert rejected(parsed) == [
        (6, f"Date of Birth '13/45/1980' is not a date; {expected}"),
        (7, f"Date of Birth 'unknown' is not a date; {expected}"),
        (8, "Date of Birth is empty; every patient needs a date of birth"),
        (9, "Date of Birth '01/01/2030' is in the future"),
        (10, "Date of Birth '01/01/1850' is before 1900"),
    ]
    # The rejected row keeps its original values for the rejects file.
    assert parsed.rejected[0].raw == {"Patient ID": "5", "Last Name": "E", "First Name": "Ed", "Date of Birth": "13/45/1980"}


def test_required_values_missing_on_a_row_reject_it(tmp_path):
    text = "MRN,Last Name,First Name,DOB\n,Garcia,Maria,04/12/1975\n2,,Ann,01/02/1990\n3,Smith,John,\n4,Ok,Row,01/01/1960\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert rejected(parsed) == [
        (2, "MRN is empty; every patient needs an identifier"),
        (3, "Last Name is empty; every patient needs a last name"),
        (4, "DOB is empty; every patient needs a date of birth"),
    ]
    assert column(parsed, "patients", "external_id") == ["4"]


def test_a_row_with_several_problems_is_rejected_once_with_every_reason(tmp_path):
    text = "MRN,Last Name,DOB\n1,,13/45/1980\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert rejected(parsed) == [
        (2, "Last Name is empty; every patient needs a last name; DOB '13/45/1980' is not a date; "
            "expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)")
    ]
    assert "patients" not in parsed.frames


def test_one_column_names_are_split_and_all_caps_proper_cased(tmp_path):
    text = (
        "Chart #,Patient Name,Birth Date\n"
        '1,"GARCIA, MARIA L",04/12/1975\n'
        '2,"O\'BRIEN JR, PATRICK",01/02/1950\n'
        '3,"Smith, John Andrew III",03/03/1960\n'
        '4,"MCDONALD, RONALD, SR",04/04/1970\n'
        '5,"van der Berg, Anna",05/05/1980\n'
        '6,"",06/06/1990\n'
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "last_name") == ["Garcia", "O'Brien", "Smith", "McDonald", "van der Berg"]
    assert column(parsed, "patients", "first_name") == ["Maria", "Patrick", "John", "Ronald", "Anna"]
    assert column(parsed, "patients", "middle_name") == ["L", None, "Andrew", None, None]
    assert column(parsed, "patients", "suffix") == [None, "Jr", "III", "Sr", None]
    assert rejected(parsed) == [(7, "Patient Name is empty; every patient needs a name")]


def test_mixed_case_names_are_kept_as_typed(tmp_path):
    text = "MRN,Last Name,First Name,DOB\n1,McDonald,DeShawn,01/01/1980\n2,LEE,ANN,01/01/1980\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "last_name") == ["McDonald", "Lee"]
    assert column(parsed, "patients", "first_name") == ["DeShawn", "Ann"]


def test_phones_are_formatted_and_unusable_ones_left_empty_not_rejected(tmp_path):
    text = (
        "MRN,Last Name,DOB,Home Phone,Cell,Work Phone\n"
        "1,A,01/01/1980,555.555.1234,1 (555) 555-9876,555-555-0000 x123\n"
        "2,B,01/01/1980,555-1234,0000000000,n/a\n"
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "phone_home") == ["(555) 555-1234", None]
    assert column(parsed, "patients", "phone_mobile") == ["(555) 555-9876", None]
    assert column(parsed, "patients", "phone_work") == ["(555) 555-0000 x123", None]
    assert parsed.rejected == []


@pytest.mark.parametrize(
    "placeholder", ["No Email", "none", "N/A", "NA", "unknown", "*SELF PAY*", "declined", "refused", "-", "0000000000"]
)
def test_placeholder_values_become_empty(tmp_path, placeholder):
    text = (
        "MRN,Last Name,DOB,Email,Language,PCP,City,Phone\n"
        f"1,Garcia,01/01/1980,{placeholder},{placeholder},{placeholder},{placeholder},{placeholder}\n"
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    for name in ("email", "preferred_language", "pm_provider_ref", "city", "phone_home"):
        assert column(parsed, "patients", name) == [None], name
    assert "providers" not in parsed.frames
    assert parsed.rejected == []


@pytest.mark.parametrize("address", ["noemail@clinic.org", "NoEmail@gmail.com", "none@none.com", "declined@x.org"])
def test_placeholder_email_addresses_become_empty(tmp_path, address):
    parsed = parse(write(tmp_path, "p.csv", f"MRN,Last Name,DOB,Email\n1,Garcia,01/01/1980,{address}\n"))
    assert column(parsed, "patients", "email") == [None]


def test_codes_and_identifiers_keep_their_leading_zeros(tmp_path):
    text = "MRN,Patient ID,Last Name,DOB,Zip\n000123,0042,Garcia,01/01/1980,02134\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "mrn") == ["000123"]
    assert column(parsed, "patients", "external_id") == ["0042"]
    assert column(parsed, "patients", "postal_code") == ["02134"]


def test_sex_language_state_and_status_are_translated(tmp_path):
    text = (
        "MRN,Last Name,DOB,Gender,Preferred Language,State,Patient Status\n"
        "1,A,01/01/1980,Female,Spanish,massachusetts,Active\n"
        "2,B,01/01/1980,m,ENGLISH,ma,Inactive\n"
        "3,C,01/01/1980,Nonbinary,Hmong,NY,Deceased\n"
        "4,D,01/01/1980,,Español,,Collections\n"
    )
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "sex") == ["F", "M", "U", None]
    assert column(parsed, "patients", "preferred_language") == ["es", "en", "Hmong", "es"]
    assert column(parsed, "patients", "state") == ["MA", "MA", "NY", None]
    assert column(parsed, "patients", "status") == ["active", "inactive", "deceased", "active"]


def test_only_the_columns_a_file_has_become_frame_columns(tmp_path):
    parsed = parse(write(tmp_path, "p.csv", "MRN,Last Name,DOB\n1,Garcia,01/01/1980\n"))
    frame = parsed.frames["patients"]
    assert set(frame.columns) == {"external_id", "mrn", "last_name", "dob", "_row", "_file"}


def test_a_duplicated_mrn_for_two_patients_rejects_the_earlier_one(tmp_path):
    text = "Patient ID,MRN,Last Name,DOB\n10,M1,Garcia,01/01/1980\n11,M1,Lee,01/01/1990\n12,M2,Smith,01/01/1970\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "external_id") == ["11", "12"]
    assert rejected(parsed) == [(2, "MRN 'M1' is also given to patient '11' at row 3; one MRN cannot belong to two patients")]


# --------------------------------------------------------------------------- appointments


APPOINTMENTS = """Appointment List
MRN,Appt Date,Appt Time,Provider,Visit Type,Status
1,05/01/2024,9:30 AM,"SMITH, JOHN MD",Annual Physical,Checked Out
1,06/15/2024,14:30,"SMITH, JOHN MD",Follow-up,Scheduled
2,05/02/2024,0930,Jane Doe NP,Telehealth Visit,No Show
,05/02/2024,1000,Jane Doe NP,,Open
2,05/03/2024,25:00,Jane Doe NP,Sick,Arrived
3,05/04/2024,10:00,Jane Doe NP,Sick,Rescheduled - pt request
4,,10:00,Jane Doe NP,Sick,Scheduled
5,05/05/2024,10:00,Jane Doe NP,Sick,Teleported
"""


def test_an_appointment_export_gives_visits_and_providers(tmp_path):
    parsed = parse(write(tmp_path, "appts.csv", APPOINTMENTS))
    assert set(parsed.frames) == {"visits", "providers"}
    visits = parsed.frames["visits"]
    assert column(parsed, "visits", "patient_ref") == ["1", "1", "2", "3"]
    assert [s.strftime("%Y-%m-%d %H:%M") for s in visits["start"]] == [
        "2024-05-01 09:30",
        "2024-06-15 14:30",
        "2024-05-02 09:30",
        "2024-05-04 10:00",
    ]
    assert column(parsed, "visits", "status") == ["completed", "scheduled", "no-show", "cancelled"]
    assert column(parsed, "visits", "visit_class") == ["wellness", "ambulatory", "virtual", "ambulatory"]
    assert column(parsed, "visits", "visit_type") == ["Annual Physical", "Follow-up", "Telehealth Visit", "Sick"]
    assert column(parsed, "visits", "provider_ref") == ["SMITH, JOHN MD", "SMITH, JOHN MD", "JANE DOE NP", "JANE DOE NP"]
    assert column(parsed, "visits", "_row") == [3, 4, 5, 8]
    assert column(parsed, "providers", "external_id") == ["SMITH, JOHN MD", "JANE DOE NP"]
    assert column(parsed, "providers", "display_name") == ["John Smith, MD", "Jane Doe, NP"]
    assert column(parsed, "providers", "credentials") == ["MD", "NP"]
    # The open slot (line 6) is skipped, not rejected.
    assert rejected(parsed) == [
        (7, "Appt Time '25:00' is not a time; expected hh:mm AM/PM, HH:MM or HHMM"),
        (9, "Appt Date is empty; every appointment needs a date"),
        (10, "Status 'Teleported' is not an appointment status the generic profile knows; add it under "
             "[values.appt_status] in generic.toml"),
    ]


def test_appointments_without_an_id_get_a_stable_one(tmp_path):
    path = write(tmp_path, "appts.csv", APPOINTMENTS)
    first = column(parse(path), "visits", "external_id")
    again = column(parse(path), "visits", "external_id")
    assert first == again
    assert len(set(first)) == 4 and all(v.startswith("pm-") for v in first)


def test_appointments_without_a_status_are_scheduled_or_completed_by_date(tmp_path):
    text = "MRN,Appointment Date,Cancelled Date\n1,05/01/2024,\n1,07/01/2024,\n1,07/02/2024,06/01/2024\n"
    parsed = parse(write(tmp_path, "a.csv", text))
    assert column(parsed, "visits", "status") == ["completed", "scheduled", "cancelled"]
    assert dates(parsed, "visits", "cancelled_date") == [None, None, dt.date(2024, 6, 1)]


def test_a_patient_list_with_a_provider_and_status_reads_them_as_pcp_and_patient_status(tmp_path):
    text = "MRN,Last Name,DOB,Provider,Status\n1,Garcia,01/01/1980,Dr. Ann Lee,Inactive\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert set(parsed.frames) == {"patients", "providers"}
    assert column(parsed, "patients", "pm_provider_ref") == ["ANN LEE"]
    assert column(parsed, "patients", "status") == ["inactive"]
    assert column(parsed, "providers", "display_name") == ["Ann Lee"]


# --------------------------------------------------------------------------- athenahealth


ATHENA = """Appointments Report - All Departments
Date Range: 01/01/2024 - 12/31/2024
patientid,patient firstname,patient lastname,patient middle initial,patientdob,patientsex,patient address1,patient city,patient state,patient zip,patient homephone,patient mobile no,patient email,patient language,appointmentid,apptdate,apptstarttime,appttype,apptstatus,apptcancelleddate,apptcancelreason,appt schdlng prvdr
1001,MARIA,GARCIA,L,04/12/1975,F,12 ELM ST,SPRINGFIELD,MA,01103,4135551234,413-555-9876,maria@mail.com,Spanish,50001,01/15/2024,09:30 AM,ANNUAL PHYSICAL,4,,,jsmith
1001,MARIA,GARCIA,L,04/12/1975,F,12 ELM ST,SPRINGFIELD,MA,01103,4135551234,413-555-9876,maria@mail.com,Spanish,50002,06/20/2024,02:15 PM,FOLLOW UP,x,06/18/2024,PATIENT CANCELLED,jsmith
1002,JOHN,O'BRIEN,,1/2/50,M,5 OAK AVE,SPRINGFIELD,MA,01104,,,No Email,English,50003,03/01/2024,10:00 AM,TELEHEALTH VISIT,3,,,adoe
,,,,,,,,,,,,,,50004,03/01/2024,10:30 AM,,o,,,adoe
1003,ANN,LEE,,07/07/2001,F,,,,,,,,,50005,12/01/2024,08:00 AM,SICK VISIT,f,,,adoe
1003,ANN,LEE,,07/07/2001,F,,,,,,,,,50006,02/01/2024,08:00 AM,SICK VISIT,x,02/01/2024,PATIENT NO SHOW,adoe
1004,RAY,KIM,,02/30/1980,M,,,,,,,,,50007,02/01/2024,08:00 AM,SICK VISIT,2,,,adoe
Total: 7
"""


def test_an_athena_appointment_report_gives_patients_visits_and_providers(tmp_path):
    parsed = parse(write(tmp_path, "athena.csv", ATHENA))
    assert parsed.profile == "athenahealth" and parsed.source == "athenahealth"
    assert parsed.rows_read == 7
    # Each patient once (their last row), though listed once per appointment.
    assert column(parsed, "patients", "external_id") == ["1001", "1002", "1003"]
    assert column(parsed, "patients", "_row") == [5, 6, 9]
    assert column(parsed, "patients", "first_name") == ["Maria", "John", "Ann"]
    assert column(parsed, "patients", "last_name") == ["Garcia", "O'Brien", "Lee"]
    assert dates(parsed, "patients", "dob") == [dt.date(1975, 4, 12), dt.date(1950, 1, 2), dt.date(2001, 7, 7)]
    assert column(parsed, "patients", "phone_mobile") == ["(413) 555-9876", None, None]
    assert column(parsed, "patients", "email") == ["maria@mail.com", None, None]
    assert column(parsed, "patients", "preferred_language") == ["es", "en", None]
    assert column(parsed, "patients", "postal_code") == ["01103", "01104", None]

    assert column(parsed, "visits", "external_id") == ["50001", "50002", "50003", "50005", "50006"]
    assert column(parsed, "visits", "status") == ["completed", "cancelled", "completed", "scheduled", "no-show"]
    assert column(parsed, "visits", "visit_class") == ["wellness", "ambulatory", "virtual", "ambulatory", "ambulatory"]
    assert dates(parsed, "visits", "cancelled_date") == [None, dt.date(2024, 6, 18), None, None, dt.date(2024, 2, 1)]
    assert column(parsed, "visits", "provider_ref") == ["JSMITH", "JSMITH", "ADOE", "ADOE", "ADOE"]
    assert column(parsed, "providers", "display_name") == ["jsmith", "adoe"]
    # The open slot is skipped; the impossible date of birth rejects its row.
    assert rejected(parsed) == [
        (10, "patientdob '02/30/1980' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)")
    ]


def test_an_athena_schedule_without_demographics_gives_visits_only(tmp_path):
    text = "patientid,apptdate,apptstarttime,apptstatus,appttype\n1001,06/03/2024,8:00 AM,f,WELL CHILD\n1002,06/03/2024,8:20 AM,2,F/U\n"
    parsed = parse(write(tmp_path, "sched.csv", text))
    assert parsed.profile == "athenahealth"
    assert set(parsed.frames) == {"visits"}
    assert column(parsed, "visits", "status") == ["scheduled", "arrived"]
    assert column(parsed, "visits", "visit_class") == ["wellness", "ambulatory"]


# --------------------------------------------------------------------------- OpenEMR


OE_PATIENTS = """pid,pubpid,fname,mname,lname,DOB,sex,street,city,state,postal_code,phone_home,phone_cell,email,language,status,providerID,deceased_date
1,PUB001,Alice,B,Walker,1960-02-03,Female,1 Main St,Boston,MA,02110,617-555-0101,,alice@mail.com,english,married,5,
2,PUB002,Bob,,Stone,1945-11-30,Male,2 Main St,Boston,MA,02110,,617-555-0102,,spanish,single,5,2023-05-01 00:00:00
3,PUB003,Cy,,Young,1970-01-01,UNK,,,,,,,,,,0,
"""

OE_CALENDAR = """pc_eid,pc_catid,pc_aid,pc_pid,pc_title,pc_eventDate,pc_startTime,pc_apptstatus
11,5,5,1,Office Visit,2024-02-01,09:00:00,>
12,8,5,0,Lunch,2024-02-01,12:00:00,-
13,9,5,2,,2024-02-02,10:15:00,?
14,10,5,1,New Patient,2024-02-03,11:00:00,x
15,13,5,1,Preventive Care Services,2024-07-01,09:00:00,-
"""


def test_openemr_patient_data(tmp_path):
    parsed = parse(write(tmp_path, "patient_data.csv", OE_PATIENTS))
    assert parsed.profile == "openemr" and parsed.source == "openemr"
    assert column(parsed, "patients", "external_id") == ["1", "2", "3"]
    assert column(parsed, "patients", "mrn") == ["PUB001", "PUB002", "PUB003"]
    assert column(parsed, "patients", "sex") == ["F", "M", "U"]
    assert column(parsed, "patients", "status") == ["active", "deceased", "active"]  # status (marital) is not read
    assert dates(parsed, "patients", "deceased_date") == [None, dt.date(2023, 5, 1), None]
    assert column(parsed, "patients", "pm_provider_ref") == ["5", "5", None]
    assert column(parsed, "providers", "display_name") == ["OpenEMR user 5"]


def test_openemr_calendar(tmp_path):
    parsed = parse(write(tmp_path, "calendar.csv", OE_CALENDAR))
    assert parsed.profile == "openemr"
    assert set(parsed.frames) == {"visits", "providers"}
    assert column(parsed, "visits", "external_id") == ["11", "13", "14", "15"]  # the lunch block has no patient
    assert column(parsed, "visits", "patient_ref") == ["1", "2", "1", "1"]
    assert column(parsed, "visits", "status") == ["completed", "no-show", "cancelled", "scheduled"]
    # pc_title is empty on event 13: its category number names the type instead.
    assert column(parsed, "visits", "visit_type") == ["Office Visit", "Established Patient", "New Patient", "Preventive Care Services"]
    assert column(parsed, "visits", "visit_class") == ["ambulatory", "ambulatory", "ambulatory", "wellness"]


@pytest.mark.parametrize(
    ("code", "status"),
    [("-", "scheduled"), ("*", "scheduled"), ("+", "scheduled"), ("#", "scheduled"), ("@", "arrived"),
     ("~", "arrived"), ("<", "arrived"), (">", "completed"), ("$", "completed"), ("?", "no-show"),
     ("!", "no-show"), ("x", "cancelled"), ("%", "cancelled")],
)
def test_openemr_appointment_status_codes(tmp_path, code, status):
    text = f"pc_eid,pc_pid,pc_eventDate,pc_startTime,pc_apptstatus\n1,7,2024-02-01,09:00:00,{code}\n"
    parsed = parse(write(tmp_path, "cal.csv", text))
    assert column(parsed, "visits", "status") == [status]


# --------------------------------------------------------------------------- Excel


def _workbook(path: Path, sheets: dict[str, list[list]]) -> Path:
    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    workbook.save(path)
    return path


def test_an_excel_export_with_date_cells_and_a_title_row(tmp_path):
    path = _workbook(
        tmp_path / "patients.xlsx",
        {
            "Report": [
                ["Active patients"],
                [None],
                ["MRN", "Last Name", "First Name", "DOB", "Zip", "Phone", "Appt Date", "Appt Time"],
                ["000123", "GARCIA", "MARIA", dt.datetime(1975, 4, 12), "02134", 4135551234, dt.datetime(2024, 5, 1, 9, 30), None],
                [124, "Lee", "Ann", dt.date(1990, 1, 2), 2134, "413-555-9876", dt.datetime(2024, 5, 2), dt.time(14, 15)],
                ["125", "Bad", "Date", "13/45/1980", None, None, dt.datetime(2024, 5, 3), None],
            ]
        },
    )
    parsed = parse(path)
    assert parsed.format == "pm-xlsx"
    assert column(parsed, "patients", "mrn") == ["000123", "124"]
    assert dates(parsed, "patients", "dob") == [dt.date(1975, 4, 12), dt.date(1990, 1, 2)]
    assert column(parsed, "patients", "postal_code") == ["02134", "02134"]
    assert column(parsed, "patients", "phone_home") == ["(413) 555-1234", "(413) 555-9876"]
    assert column(parsed, "patients", "_row") == [4, 5]
    assert [s.strftime("%Y-%m-%d %H:%M") for s in parsed.frames["visits"]["start"]] == ["2024-05-01 09:30", "2024-05-02 14:15"]
    assert rejected(parsed) == [(6, "DOB '13/45/1980' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)")]


def test_an_excel_workbook_is_read_from_its_patients_and_appointments_sheets(tmp_path):
    path = _workbook(
        tmp_path / "export.xlsx",
        {
            "Summary": [["Nothing to see"], ["Total", 2]],
            "Patients": [["MRN", "Last Name", "DOB"], ["1", "Garcia", dt.datetime(1975, 4, 12)], ["2", "Lee", dt.datetime(1990, 1, 2)]],
            "Appointments": [["MRN", "Appt Date", "Status"], ["1", dt.datetime(2024, 5, 1, 9, 0), "Completed"]],
        },
    )
    parsed = parse(path)
    assert column(parsed, "patients", "external_id") == ["1", "2"]
    assert column(parsed, "visits", "patient_ref") == ["1"]
    assert column(parsed, "visits", "_file") == [f"{path} [Appointments]"]
    assert parsed.rows_read == 3


def test_a_broken_excel_file_is_refused(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ImportFileError, match="cannot be opened"):
        parse(path)


# --------------------------------------------------------------------------- files that cannot be understood


def test_missing_required_columns_name_the_file_the_columns_and_the_fix(tmp_path):
    path = write(tmp_path, "list.csv", "Report\nAcct No,Last Name,First Name,Birth\n1,Garcia,Maria,04/12/1975\n")
    with pytest.raises(ImportFileError) as error:
        parse(path)
    message = str(error.value)
    assert str(path) in message
    assert "date of birth" in message and "appointment date" in message
    assert "Columns found (line 2): Acct No, Last Name, First Name, Birth" in message
    assert "--map dob=Birth" in message
    assert "--profile athenahealth|openemr" in message


def test_the_suggested_map_option_works(tmp_path):
    path = write(tmp_path, "list.csv", "Report\nAcct No,Last Name,First Name,Birth\n1,Garcia,Maria,04/12/1975\n")
    parsed = parse(path, mapping={"dob": "Birth"})
    assert dates(parsed, "patients", "dob") == [dt.date(1975, 4, 12)]
    assert column(parsed, "patients", "external_id") == ["1"]


def test_an_unknown_layout_says_where_it_looked_and_how_to_fix_it(tmp_path):
    path = write(tmp_path, "weird.csv", "Foo,Bar,Baz\n1,2,3\n")
    with pytest.raises(ImportFileError) as error:
        parse(path)
    message = str(error.value)
    assert str(path) in message and "Foo, Bar, Baz" in message
    assert "--map patient_id=" in message and "--profile" in message


def test_map_options_are_checked(tmp_path):
    path = write(tmp_path, "p.csv", "MRN,Last Name,Birth Dt\n1,Garcia,04/12/1975\n")
    with pytest.raises(ImportFileError) as error:
        parse(path, mapping={"birthday": "Birth Dt"})
    assert "'birthday' is not a field" in str(error.value) and "dob" in str(error.value)
    with pytest.raises(ImportFileError) as error:
        parse(path, mapping={"dob": "Birthdate"})
    assert "no column 'Birthdate'" in str(error.value) and "MRN, Last Name, Birth Dt" in str(error.value)
    parsed = parse(path, mapping={"dob": "birth dt"})  # case and spacing do not matter
    assert dates(parsed, "patients", "dob") == [dt.date(1975, 4, 12)]


def test_headers_nobody_knows_are_found_through_the_map_options(tmp_path):
    path = write(tmp_path, "p.csv", "Clinic export\nNr,Fam,Geb\n7,Garcia,04/12/1975\n")
    parsed = parse(path, mapping={"patient_id": "Nr", "last_name": "Fam", "dob": "Geb"})
    assert column(parsed, "patients", "external_id") == ["7"]
    assert column(parsed, "patients", "_row") == [3]


def test_an_empty_cell_is_filled_from_a_second_column_for_the_same_field_but_never_for_identifiers(tmp_path):
    text = "Patient ID,Acct #,Last Name,DOB,Home Phone,Phone\n1,A1,Garcia,01/01/1980,,413-555-1234\n,A2,Lee,01/01/1980,,\n"
    parsed = parse(write(tmp_path, "p.csv", text))
    assert column(parsed, "patients", "phone_home") == ["(413) 555-1234"]
    assert rejected(parsed) == [(3, "Patient ID is empty; every patient needs an identifier")]


def test_cancelling_stops_the_parse(tmp_path):
    from panelmanager.core.jobs import Cancelled, CancelToken

    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled):
        parse(write(tmp_path, "p.csv", PATIENTS), cancel=token)


def test_progress_is_reported_to_the_end(tmp_path):
    seen = []
    parse(write(tmp_path, "p.csv", PATIENTS), progress=lambda done, total, message="": seen.append((done, total)))
    assert seen[0] == (0, 100) and seen[-1] == (100, 100)


def test_an_unknown_profile_lists_the_profiles(tmp_path):
    path = write(tmp_path, "p.csv", PATIENTS)
    with pytest.raises(ImportFileError) as error:
        parse(path, profile="epic")
    assert "epic" in str(error.value) and "athenahealth, generic, openemr" in str(error.value)


def test_a_named_profile_is_used_even_when_another_would_fit(tmp_path):
    path = write(tmp_path, "p.csv", "patientid,patient lastname,patientdob,Last Name,DOB\n1,Garcia,01/01/1980,X,01/01/1970\n")
    assert parse(path).profile == "athenahealth"
    parsed = parse(path, profile="generic")
    assert parsed.profile == "generic" and column(parsed, "patients", "last_name") == ["X"]


def test_a_file_can_be_described_before_it_is_imported(tmp_path):
    from panelmanager.core.importers.pm import describe_pm_file

    description = describe_pm_file(write(tmp_path, "athena.csv", ATHENA))
    assert (description.profile, description.source, description.format) == ("athenahealth", "athenahealth", "pm-csv")
    assert description.header_line == 3 and description.rows == 7
    assert description.frames == ["patients", "visits"]
    assert description.mapping["dob"] == "patientdob"
    assert description.mapping["provider"] == "appt schdlng prvdr"
    assert description.mapping["pcp"] is None
    with pytest.raises(ImportFileError, match="--map dob="):
        describe_pm_file(write(tmp_path, "nodob.csv", "MRN,Last Name,Birth\n1,Garcia,01/01/1980\n"))


# --------------------------------------------------------------------------- the full path into the registry


def patients_in(registry) -> list[tuple]:
    with registry.session() as session:
        return session.execute(
            select(models.Patient.mrn, models.Patient.last_name, models.Patient.phone_home, models.Patient.email).order_by(models.Patient.mrn)
        ).all()


def test_importing_twice_changes_nothing_and_a_changed_phone_updates_one_patient(fresh_registry, tmp_path):
    first = write(tmp_path, "patients.csv", "Patient list\n" + PATIENTS + "Total: 3\n")
    [outcome] = run_import(fresh_registry, [first], write_rejects=False)
    assert outcome.ok and outcome.profile == "generic" and outcome.format == "pm-csv"
    assert (outcome.rows_read, outcome.new, outcome.updated, outcome.rejected) == (3, 3, 0, 0)
    with fresh_registry.session() as session:
        assert registry_stats(session)["patients"] == 3

    [again] = run_import(fresh_registry, [first], write_rejects=False)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 3)

    newer = write(tmp_path, "patients-june.csv", PATIENTS.replace("(413) 555-9876", "413 555 0000"))
    [changed] = run_import(fresh_registry, [newer], write_rejects=False)
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 2)
    assert ("000124", "Lee", "(413) 555-0000", None) in patients_in(fresh_registry)


def test_a_file_without_emails_does_not_blank_the_emails_already_there(fresh_registry, tmp_path):
    run_import(fresh_registry, [write(tmp_path, "full.csv", PATIENTS)], write_rejects=False)
    phones_only = write(tmp_path, "phones.csv", "MRN,Last Name,DOB,Phone\n000123,Garcia,04/12/1975,413-555-2222\n")
    [outcome] = run_import(fresh_registry, [phones_only], write_rejects=False)
    assert outcome.updated == 1
    assert ("000123", "Garcia", "(413) 555-2222", "maria@mail.com") in patients_in(fresh_registry)


def test_dry_run_writes_nothing(fresh_registry, tmp_path):
    [outcome] = run_import(fresh_registry, [write(tmp_path, "p.csv", PATIENTS)], dry_run=True)
    assert outcome.ok and outcome.new == 3
    with fresh_registry.session() as session:
        stats = registry_stats(session)
    assert stats["patients"] == 0 and stats["import_batches"] == 0


def test_patients_then_appointments_then_rejects_into_the_registry(fresh_registry, tmp_path):
    run_import(fresh_registry, [write(tmp_path, "p.csv", "MRN,Last Name,DOB\n1,A,01/01/1980\n2,B,01/01/1980\n3,C,01/01/1980\n")])
    appts = write(tmp_path, "appts.csv", APPOINTMENTS)
    [outcome] = run_import(fresh_registry, [appts], rejects_dir=tmp_path / "rejects")
    assert outcome.ok
    assert outcome.tables["visits"]["new"] == 4 and outcome.tables["providers"]["new"] == 2
    assert outcome.rejected == 3
    with fresh_registry.session() as session:
        stats = registry_stats(session)
        assert stats["visits"] == 4 and stats["scheduled_visits"] == 1
        smith = session.scalars(select(models.Provider).where(models.Provider.external_id == "SMITH, JOHN MD")).one()
        assert (smith.display_name, smith.source, smith.fte, smith.active) == ("John Smith, MD", "pm", 1.0, True)
    rejects = (tmp_path / "rejects" / "appts.rejects.csv").read_text(encoding="utf-8")
    assert "Teleported" in rejects and "25:00" in rejects
    [again] = run_import(fresh_registry, [appts], write_rejects=False)
    assert (again.new, again.updated) == (0, 0)


def test_an_athena_report_imports_in_one_go_and_again_changes_nothing(fresh_registry, tmp_path):
    path = write(tmp_path, "athena.csv", ATHENA)
    [outcome] = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok and outcome.profile == "athenahealth"
    assert outcome.tables["patients"]["new"] == 3 and outcome.tables["visits"]["new"] == 5
    assert outcome.tables["providers"]["new"] == 2 and outcome.rejected == 1
    with fresh_registry.session() as session:
        garcia = session.scalars(select(models.Patient).where(models.Patient.mrn == "1001")).one()
        assert (garcia.first_name, garcia.last_name, garcia.middle_name, garcia.dob) == ("Maria", "Garcia", "L", dt.date(1975, 4, 12))
        assert [i.source for i in garcia.identifiers] == ["athenahealth"]
    [again] = run_import(fresh_registry, [path], write_rejects=False)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 10)


def test_openemr_patients_and_calendar_link_through_pid(fresh_registry, tmp_path):
    run_import(fresh_registry, [write(tmp_path, "patient_data.csv", OE_PATIENTS)], write_rejects=False)
    [outcome] = run_import(fresh_registry, [write(tmp_path, "calendar.csv", OE_CALENDAR)], write_rejects=False)
    assert outcome.ok and outcome.tables["visits"]["new"] == 4 and outcome.rejected == 0
    with fresh_registry.session() as session:
        alice = session.scalars(select(models.Patient).where(models.Patient.mrn == "PUB001")).one()
        visits = session.scalars(select(models.Visit).where(models.Visit.patient_id == alice.id).order_by(models.Visit.start)).all()
        assert [v.external_id for v in visits] == ["11", "14", "15"]
        provider = session.get(models.Provider, alice.pm_provider_id)
        assert provider.display_name == "OpenEMR user 5" and visits[0].provider_id == provider.id


def test_a_file_that_cannot_be_understood_is_reported_not_raised(fresh_registry, tmp_path):
    path = write(tmp_path, "weird.csv", "Foo,Bar\n1,2\n")
    [outcome] = run_import(fresh_registry, [path])
    assert not outcome.ok and "--map" in outcome.error and str(path) in outcome.error


def test_appointments_for_patients_nobody_has_imported_are_rejected_not_crashed(fresh_registry, tmp_path):
    appts = write(tmp_path, "appts.csv", "MRN,Appt Date,Appt Time,Provider\n77,05/01/2024,9:30,Jane Doe NP\n78,05/01/2024,10:00,Jane Doe NP\n")
    [outcome] = run_import(fresh_registry, [appts], write_rejects=False)
    assert outcome.ok and outcome.rejected == 2
    reasons = [r.reason for r in outcome.rejections]
    assert all("is not in this file or the registry; import the patients first" in r for r in reasons)
    with fresh_registry.session() as session:
        assert registry_stats(session)["visits"] == 0


def test_appointments_find_patients_imported_from_another_source_by_mrn(fresh_registry, tmp_path, synthea_small):
    run_import(fresh_registry, [synthea_small], write_rejects=False)
    with fresh_registry.session() as session:
        mrn = session.scalars(select(models.Patient.mrn).order_by(models.Patient.id).limit(1)).one()
    appts = write(tmp_path, "appts.csv", f"MRN,Appt Date,Appt Time,Provider\n{mrn},05/01/2024,9:30,Jane Doe NP\n")
    [outcome] = run_import(fresh_registry, [appts], write_rejects=False)
    assert outcome.ok and outcome.rejected == 0 and outcome.tables["visits"]["new"] == 1


def test_a_patient_inactivated_in_the_registry_stays_inactive_when_an_export_lists_them_active(fresh_registry, tmp_path):
    listing = write(tmp_path, "p.csv", "MRN,Last Name,DOB,Status\n1,A,01/01/1980,Active\n2,B,01/01/1980,Active\n")
    run_import(fresh_registry, [listing], write_rejects=False)
    with fresh_registry.session() as session:
        session.query(models.Patient).filter(models.Patient.mrn == "1").update({"status": "inactive"})
        session.commit()
    run_import(fresh_registry, [listing], write_rejects=False)
    deceased = write(tmp_path, "p2.csv", "MRN,Last Name,DOB,Status\n1,A,01/01/1980,Deceased\n")
    with fresh_registry.session() as session:
        assert dict(session.execute(select(models.Patient.mrn, models.Patient.status)).all()) == {"1": "inactive", "2": "active"}
    run_import(fresh_registry, [deceased], write_rejects=False)
    with fresh_registry.session() as session:
        assert session.scalars(select(models.Patient.status).where(models.Patient.mrn == "1")).one() == "deceased"


# --------------------------------------------------------------------------- events of rejected patients


def test_appointments_of_a_patient_whose_own_row_was_rejected_name_that_row(fresh_registry, tmp_path):
    path = _workbook(
        tmp_path / "export.xlsx",
        {
            "Patients": [
                ["MRN", "Last Name", "DOB"],
                ["1", "Garcia", dt.datetime(1975, 4, 12)],
                ["2", "Lee", "13/45/1980"],  # line 3: not a date
            ],
            "Appointments": [
                ["MRN", "Appt Date", "Status"],
                ["1", dt.datetime(2024, 5, 1, 9, 0), "Completed"],
                ["2", dt.datetime(2024, 5, 2, 9, 0), "Completed"],  # line 3: patient 2 was rejected
                ["9", dt.datetime(2024, 5, 3, 9, 0), "Completed"],  # line 4: nobody has patient 9
            ],
        },
    )
    [outcome] = run_import(fresh_registry, [path], write_rejects=False)
    assert outcome.ok and outcome.tables["visits"]["new"] == 1
    patients, appointments = f"{path} [Patients]", f"{path} [Appointments]"
    reasons = {(r.file_name, r.source_row): r.reason for r in outcome.rejections}
    assert set(reasons) == {(patients, 3), (appointments, 3), (appointments, 4)}
    assert reasons[(appointments, 3)] == (
        "patient '2' was not imported because that patient's own row was rejected (export.xlsx [Patients] row 3: "
        "DOB '13/45/1980' is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)); "
        "correct export.xlsx [Patients] row 3 and import again"
    )
    assert reasons[(appointments, 4)] == "patient '9' is not in this file or the registry; import the patients first"


def test_an_appointment_of_a_patient_dropped_for_a_shared_mrn_names_the_dropped_row(fresh_registry, tmp_path):
    text = (
        "Patient ID,MRN,Last Name,DOB,Appt Date,Appt Time\n"
        "A1,100,Garcia,04/12/1975,05/01/2024,9:00 AM\n"  # line 2: loses MRN 100 to B2
        "B2,100,Lee,01/02/1990,05/02/2024,9:00 AM\n"
    )
    [outcome] = run_import(fresh_registry, [write(tmp_path, "report.csv", text)], write_rejects=False)
    assert outcome.ok and outcome.tables["patients"]["new"] == 1 and outcome.tables["visits"]["new"] == 1
    reasons = sorted((r.source_row, r.reason) for r in outcome.rejections)
    assert reasons == [
        (2, "MRN '100' is also given to patient 'B2' at row 3; one MRN cannot belong to two patients"),
        (
            2,
            "patient 'A1' was not imported because that patient's own row was rejected (report.csv row 2: MRN '100' "
            "is also given to patient 'B2' at row 3; one MRN cannot belong to two patients); correct report.csv row 2 "
            "and import again",
        ),
    ]


# --------------------------------------------------------------------------- files that are not what they seem


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_text_without_a_byte_order_mark_is_read(tmp_path, encoding):
    parsed = parse(write(tmp_path, "p.csv", ACCENTED, encoding=encoding))
    assert column(parsed, "patients", "last_name") == ["Peña", "Müller", "Søren"]
    assert column(parsed, "patients", "mrn") == ["1", "2", "3"]


@pytest.mark.parametrize("name", ["export.xlsx", "export.csv"])
def test_an_old_format_or_password_protected_workbook_is_refused_with_the_fix(fresh_registry, tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))
    [outcome] = run_import(fresh_registry, [path])
    assert not outcome.ok
    assert outcome.error.startswith(f"{path}: this is an old-format Excel workbook (.xls) or a password-protected one")
    assert "save it as .xlsx (or as CSV)" in outcome.error


def test_a_damaged_excel_sheet_is_refused_naming_the_sheet_and_the_fix(fresh_registry, tmp_path):
    import zipfile

    good = _workbook(tmp_path / "good.xlsx", {"Patients": [["MRN", "Last Name", "DOB"], ["1", "Lee", "01/02/1980"]]})
    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item.filename)
            target.writestr(item, data[: len(data) // 2] if item.filename.startswith("xl/worksheets/") else data)
    [outcome] = run_import(fresh_registry, [damaged])
    assert not outcome.ok and "Traceback" not in outcome.error
    assert outcome.error.startswith(f"{damaged}: sheet 'Patients' of this Excel file cannot be read")
    assert "save it again as .xlsx (or as CSV)" in outcome.error
    with fresh_registry.session() as session:
        assert registry_stats(session)["patients"] == 0


def test_a_date_with_an_impossible_year_is_a_rejected_row_not_a_failed_file(fresh_registry, tmp_path):
    text = (
        "MRN,Last Name,DOB,Appt Date,Appt Time\n"
        "1,Garcia,04/12/1975,05/01/2024,9:00 AM\n"
        "2,Lee,04/13/0202,05/02/2024,9:00 AM\n"  # line 3: a year typed short
        "3,Khan,01/02/1990,05/03/3024,9:00 AM\n"  # line 4
    )
    [outcome] = run_import(fresh_registry, [write(tmp_path, "report.csv", text)], write_rejects=False)
    assert outcome.ok, outcome.error
    assert outcome.tables["patients"]["new"] == 1 and outcome.tables["visits"]["new"] == 1
    expected = "is not a date; expected MM/DD/YYYY (also M/D/YY, YYYY-MM-DD or YYYYMMDD)"
    assert [(r.source_row, r.reason) for r in outcome.rejections] == [
        (3, f"DOB '04/13/0202' {expected}"),
        (4, f"Appt Date '05/03/3024' {expected}"),
    ]


def test_new_patients_get_identifiers_pointing_at_their_own_rows(fresh_registry, tmp_path):
    first = "Patient ID,MRN,Last Name,DOB\nA,100,Garcia,04/12/1975\nB,200,Lee,01/02/1990\n"
    run_import(fresh_registry, [write(tmp_path, "a.csv", first)])
    later = "Patient ID,MRN,Last Name,DOB\nC,300,Khan,03/03/1983\nA,100,Garcia,04/12/1975\nD,400,Ray,04/04/1984\n"
    [outcome] = run_import(fresh_registry, [write(tmp_path, "b.csv", later)], write_rejects=False)
    assert (outcome.new, outcome.unchanged) == (2, 1)
    with fresh_registry.session() as session:
        pairs = session.execute(
            select(models.PatientIdentifier.identifier, models.Patient.mrn)
            .join(models.Patient, models.Patient.id == models.PatientIdentifier.patient_id)
            .order_by(models.PatientIdentifier.identifier)
        ).all()
    assert pairs == [("A", "100"), ("B", "200"), ("C", "300"), ("D", "400")]


def test_inserted_ids_fall_back_to_the_mrn_when_the_rows_do_not_line_up(fresh_registry, tmp_path):
    from panelmanager.core.importers.writer import TABLES, _IdMaps, _inserted_ids

    run_import(fresh_registry, [write(tmp_path, "a.csv", "MRN,Last Name,DOB\n100,Garcia,04/12/1975\n200,Lee,01/02/1990\n")])
    with fresh_registry.engine.connect() as conn:
        stored = dict(conn.execute(select(models.Patient.mrn, models.Patient.id)).all())
        asked = pd.Series(["200", "100"], index=[7, 3])  # not the insertion order
        ids = _inserted_ids(conn, TABLES["patients"], asked, None, _IdMaps(conn, "pm"))
    assert ids.to_dict() == {7: stored["200"], 3: stored["100"]}


def test_a_dry_run_previews_files_as_one_batch_and_keeps_nothing(fresh_registry, tmp_path):
    patients = write(tmp_path, "p.csv", "MRN,Last Name,DOB\n1,A,01/01/1980\n2,B,01/01/1980\n3,C,01/01/1980\n")
    appts = write(tmp_path, "appts.csv", APPOINTMENTS)
    preview = run_import(fresh_registry, [patients, appts], dry_run=True)
    real_registry = run_import(fresh_registry, [patients, appts], write_rejects=False)
    # The preview sees the patients file before the appointments file, exactly as the import does.
    assert [(o.new, o.rejected) for o in preview] == [(o.new, o.rejected) for o in real_registry]
    assert preview[1].tables["visits"]["new"] == 4


def test_a_dry_run_writes_nothing_even_for_several_files(fresh_registry, tmp_path):
    patients = write(tmp_path, "p.csv", "MRN,Last Name,DOB\n1,A,01/01/1980\n")
    appts = write(tmp_path, "appts.csv", "MRN,Appt Date,Appt Time,Provider\n1,05/01/2024,9:30,Jane Doe NP\n")
    run_import(fresh_registry, [patients, appts], dry_run=True)
    with fresh_registry.session() as session:
        stats = registry_stats(session)
    assert stats["patients"] == 0 and stats["visits"] == 0 and stats["providers"] == 0 and stats["import_batches"] == 0
