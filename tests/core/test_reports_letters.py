"""Outreach letters: language, wording, address window, people left out, templates a manager edits."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.lib.units import inch
from reportlab.pdfbase.pdfmetrics import stringWidth

from panelmanager.core.people import Contact, GapItem
from panelmanager.core.reports.common import Letterhead, fonts
from panelmanager.core.reports.letters import (
    EnvelopeWindow,
    build_calibration_page,
    build_letters,
    letter_language,
    load_letter_templates,
    mailing_problem,
)
from panelmanager.core.resources import ResourceError, resource_path

DAY = dt.date(2024, 3, 4)
COLON = GapItem("colorectal-cancer-screening", "Colorectal cancer screening", "a colon cancer screening")
FLU = GapItem("influenza-immunization", "Influenza immunization", "this season's flu shot")
A1C = GapItem("diabetes-a1c-poor-control", "Diabetes: HbA1c poor control", "a diabetes check-up and A1c blood test")
HEAD = Letterhead("Riverside Community Health", ("1 Main St", "Springfield, MA 01103"), "(413) 555-0100")


def person(pid: int, first: str, last: str, *, language: str | None = "en", gaps=(COLON,), dob=dt.date(1960, 5, 1),
           address: str | None = "12 Oak St", zip_code: str = "01103", provider: str = "Ana Alvarez, MD") -> Contact:
    return Contact(
        patient_id=pid, mrn=f"M{pid:04d}", first_name=first, last_name=last, dob=dob, address1=address,
        city="Springfield", state="MA", postal_code=zip_code, preferred_language=language, provider_name=provider,
        gaps=tuple(gaps),
    )


def pages_text(path) -> list[str]:
    return [page.extract_text() for page in PdfReader(str(path)).pages]


def positioned_text(page) -> list[tuple[str, float, float, float]]:
    """(text, x, baseline y, font size) of every line drawn on a page."""
    found = []

    def visit(text, cm, tm, _font, size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            found.append((text.strip(), x, y, size * tm[0] * cm[0]))

    page.extract_text(visitor_text=visit)
    return found


def test_each_patient_gets_a_letter_in_their_language_naming_their_gaps(tmp_path):
    contacts = [
        person(1, "María", "Núñez", language="Spanish", gaps=(COLON, FLU)),
        person(2, "John", "Smith", language="en", gaps=(COLON,)),
        person(3, "Minh", "Nguyen", language="Vietnamese", gaps=(FLU,)),  # no template: English
    ]
    out = tmp_path / "letters.pdf"
    result = build_letters(contacts, out, letterhead=HEAD, date=DAY)

    assert result.letters == 3 and result.pages == 3 and result.skipped == []
    assert result.languages == {"es": 1, "en": 2}
    maria, john, minh = pages_text(out)
    assert "María Núñez" in maria and "Estimado(a) María Núñez:" in maria
    assert "4 de marzo de 2024" in maria
    assert "Una prueba de detección del cáncer de colon" in maria
    assert "La vacuna contra la gripe (influenza) de esta temporada" in maria
    assert "Atentamente," in maria and "atención" in maria
    # One gap: the single-topic wording, with the measure's own paragraph.
    assert "Dear John Smith," in john and "time for you to get a colon cancer screening." in john
    assert "March 4, 2024" in john and "Colon cancer is one of the most preventable cancers" in john
    assert "flu" not in john.lower()
    assert "Dear Minh Nguyen," in minh and "time for you to get this season's flu shot." in minh
    for text in (maria, john, minh):
        assert "Riverside Community Health" in text and "(413) 555-0100" in text and "Ana Alvarez, MD" in text
    assert sorted(map(tuple, result.pairs.to_numpy().tolist())) == [
        (1, "colorectal-cancer-screening"), (1, "influenza-immunization"), (2, "colorectal-cancer-screening"),
        (3, "influenza-immunization"),
    ]


def test_one_letter_per_gap_gives_single_topic_letters(tmp_path):
    out = tmp_path / "letters.pdf"
    result = build_letters([person(1, "Ann", "Lee", gaps=(COLON, FLU, A1C))], out, letterhead=HEAD, date=DAY,
                           one_per_gap=True)
    assert result.letters == 3 and result.pages == 3 and result.patients == 1
    texts = pages_text(out)
    assert "it is time for you to get a colon cancer screening." in texts[0]
    assert "Colon cancer is one of the most preventable cancers" in texts[0]
    assert "this season's flu shot" in texts[1] and "colon" not in texts[1].lower()
    assert "A1c" in texts[2]


def test_patients_without_a_usable_address_are_listed_not_silently_dropped(tmp_path):
    contacts = [
        person(1, "Has", "Address"),
        person(2, "No", "Street", address=None),
        person(3, "Bad", "Zip", zip_code="123"),
        person(4, "Homeless", "Person", address="HOMELESS"),
        person(5, "No", "Gaps", gaps=()),
    ]
    out = tmp_path / "letters.pdf"
    result = build_letters(contacts, out, letterhead=HEAD, date=DAY)
    assert result.letters == 1
    reasons = {mrn: reason for _pid, mrn, _name, reason in result.skipped}
    assert reasons == {
        "M0002": "no street address",
        "M0003": "ZIP code '123' is not valid",
        "M0004": "no street address",
        "M0005": "no open gap to write about",
    }
    text = "".join(pages_text(out))
    assert "Has Address" in text and "Street" not in text


def test_letters_to_children_go_to_a_parent_or_guardian(tmp_path):
    out = tmp_path / "letters.pdf"
    child = person(1, "Liam", "Brown", dob=dt.date(2016, 1, 1), gaps=(FLU,))
    build_letters([child], out, letterhead=HEAD, date=DAY)
    text = pages_text(out)[0]
    assert "To the parent or guardian of" in text
    assert "Dear parent or guardian of Liam," in text
    assert "time for Liam to get this season's flu shot" in text


def _inside_window(lines, window: EnvelopeWindow, fontname: str) -> None:
    x0, y0, x1, y1 = window.rect()
    for text, x, y, size in lines:
        width = stringWidth(text, fontname, size)
        assert x0 <= x and x + width <= x1, f"{text!r} sticks out of the window sideways"
        assert y0 <= y - 0.25 * size and y + 0.8 * size <= y1, f"{text!r} sticks out of the window vertically"


@pytest.mark.parametrize("offsets", [{}, {"window_left": 1.0, "window_top": 2.4, "window_height": 1.0}])
def test_the_address_block_falls_inside_the_envelope_window(tmp_path, offsets):
    window = EnvelopeWindow.from_offsets(offsets)
    contact = person(1, "Guadalupe", "Hernández-Castellanos", gaps=(COLON,))
    contact.address2 = "Apartment 12B, Building Seven"
    child = person(2, "Liam", "Brown", dob=dt.date(2016, 1, 1), gaps=(FLU,))
    child.address2 = "Unit 4"  # five lines: the parent line, name, two street lines, city
    out = tmp_path / "letters.pdf"
    build_letters([contact, child], out, letterhead=HEAD, date=DAY, window=window)
    f = fonts()
    x0, y0, x1, y1 = window.rect()
    for page, expected in zip(PdfReader(str(out)).pages, (4, 5)):
        drawn = positioned_text(page)
        in_window = [t for t in drawn if x0 <= t[1] <= x1 and y0 - 12 <= t[2] <= y1]
        assert len(in_window) == expected, in_window  # the address lines, and nothing else
        _inside_window(in_window, window, f.regular)
        assert in_window[-1][0] == "Springfield, MA 01103"
    first = positioned_text(PdfReader(str(out)).pages[0])
    assert first[[t[0] for t in first].index("Guadalupe Hernández-Castellanos")][1] == pytest.approx(
        x0 + 0.15 * inch, abs=0.5
    )


def test_window_offsets_that_leave_the_page_are_refused():
    with pytest.raises(ValueError, match="window"):
        EnvelopeWindow.from_offsets({"window_left": 6.0})
    with pytest.raises(ValueError, match="not known"):
        EnvelopeWindow.from_offsets({"left_margin": 1.0})


def test_the_calibration_page_shows_a_sample_address_inside_the_window(tmp_path):
    window = EnvelopeWindow.from_offsets({"window_top": 2.25})
    out = tmp_path / "calibration.pdf"
    build_calibration_page(out, letterhead=HEAD, window=window)
    reader = PdfReader(str(out))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    assert "Envelope window check" in text and "top 2.250\"" in text
    x0, y0, x1, y1 = window.rect()
    sample = [t for t in positioned_text(reader.pages[0]) if x0 <= t[1] <= x1 and y0 <= t[2] <= y1]
    assert [t[0] for t in sample][:2] == ["To the parent or guardian of", "SAMPLE PATIENT NAME"]
    _inside_window(sample, window, fonts().regular)


def test_a_letter_with_many_gaps_continues_on_a_second_page(tmp_path):
    many = tuple(
        GapItem(f"measure-{i}", f"Measure {i}", f"care item number {i} " + "with a long explanation " * 6)
        for i in range(12)
    )
    out = tmp_path / "letters.pdf"
    result = build_letters([person(1, "Ann", "Lee", gaps=many), person(2, "Bo", "Ko")], out, letterhead=HEAD, date=DAY)
    assert result.letters == 2 and result.pages == 3
    texts = pages_text(out)
    assert "Ann Lee - March 4, 2024 (2)" in texts[1] and "Sincerely," in texts[1]
    assert "Dear Bo Ko," in texts[2]


def test_logo_and_signature_images_are_printed(tmp_path):
    from PIL import Image

    logo, signature = tmp_path / "logo.png", tmp_path / "signature.png"
    Image.new("RGB", (300, 100), (20, 80, 160)).save(logo)
    Image.new("RGB", (400, 120), (255, 255, 255)).save(signature)
    head = Letterhead("Riverside", ("1 Main St",), "(413) 555-0100", logo_path=str(logo),
                      signature_path=str(signature), signer_name="Dr. Rosa Medina", signer_title="Medical Director")
    out = tmp_path / "letters.pdf"
    build_letters([person(1, "Ann", "Lee"), person(2, "Bo", "Ko")], out, letterhead=head, date=DAY)
    reader = PdfReader(str(out))
    assert all("Dr. Rosa Medina" in p.extract_text() and "Medical Director" in p.extract_text() for p in reader.pages)
    data = out.read_bytes()
    assert data.count(b"/Subtype /Image") == 2  # each image stored once, however many letters


def test_spanish_accents_survive_the_built_in_helvetica_font(tmp_path):
    out = tmp_path / "letters.pdf"
    build_letters([person(1, "José", "Muñoz", language="es")], out, letterhead=HEAD, date=DAY,
                  fontset=fonts("helvetica"))
    text = pages_text(out)[0]
    assert "José Muñoz" in text and "atención médica" in text and "Atentamente," in text


def test_letter_language_follows_the_preferred_language_with_english_as_fallback():
    templates = load_letter_templates()
    assert {"en", "es"} <= set(templates)
    for value, expected in [("es", "es"), ("Spanish", "es"), ("Español", "es"), ("es-MX", "es"), ("spa", "es"),
                            ("English", "en"), (None, "en"), ("", "en"), ("Vietnamese", "en"), ("fr", "en")]:
        assert letter_language(value, templates) == expected, value


def test_mailing_problem_checks_street_city_and_zip():
    assert mailing_problem(person(1, "A", "B")) is None
    assert mailing_problem(person(1, "A", "B", zip_code="01103-1234")) is None
    assert mailing_problem(person(1, "A", "B", zip_code="")) == "no ZIP code"


def _copy_templates(folder: Path) -> Path:
    folder.mkdir()
    for name in ("en.toml", "es.toml"):
        (folder / name).write_text(resource_path("letters", name).read_text(encoding="utf-8"), encoding="utf-8")
    return folder


def test_a_manager_can_change_the_wording(tmp_path):
    folder = _copy_templates(tmp_path / "letters")
    en = folder / "en.toml"
    en.write_text(en.read_text(encoding="utf-8").replace('closing = "Sincerely,"', 'closing = "Warm regards,"'),
                  encoding="utf-8")
    out = tmp_path / "letters.pdf"
    build_letters([person(1, "Ann", "Lee")], out, letterhead=HEAD, date=DAY, templates=load_letter_templates(folder))
    assert "Warm regards," in pages_text(out)[0]


def test_an_unknown_placeholder_is_reported_with_file_and_line(tmp_path):
    folder = _copy_templates(tmp_path / "letters")
    es = folder / "es.toml"
    lines = es.read_text(encoding="utf-8").splitlines()
    number = next(i for i, line in enumerate(lines) if line.startswith("greeting ="))
    lines[number] = 'greeting = "Estimado(a) {nombre}:"'
    es.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(ResourceError) as error:
        load_letter_templates(folder)
    message = str(error.value)
    assert "es.toml" in message and f"line {number + 1}" in message and "{nombre}" in message


def test_english_template_is_required(tmp_path):
    folder = _copy_templates(tmp_path / "letters")
    (folder / "en.toml").unlink()
    with pytest.raises(ResourceError, match="en.toml"):
        load_letter_templates(folder)


def test_letters_can_be_written_to_a_buffer_for_the_preview():
    import io

    buffer = io.BytesIO()
    build_letters([person(1, "Ann", "Lee")], buffer, letterhead=HEAD, date=DAY)
    assert buffer.getvalue().startswith(b"%PDF")
    assert len(PdfReader(buffer).pages) == 1


def test_letters_need_the_practice_phone_number(tmp_path):
    from panelmanager.core.reports.letters import LetterError

    with pytest.raises(LetterError, match="phone number is not set"):
        build_letters([person(1, "Ann", "Lee")], tmp_path / "letters.pdf", letterhead=Letterhead("Riverside"),
                      date=DAY)
