"""What every printed document shares: fonts, page sizes, wrapping, letterhead data, the footer.

Only PDF concerns live here. The people, dates and gaps the documents print come from the
core (``core.people``, ``core.gap_text``, ``core.documents``); nothing in the core outside
``core/reports`` imports this module.

Documents are built with reportlab only (no Qt), into a file the user chose or an
in-memory buffer for the app's preview. Text is set in DejaVu Sans, Arial or Liberation
Sans when one is installed (embedded as a subset; they cover every accent in the demo and
Synthea names) and in reportlab's built-in Helvetica otherwise; Helvetica's WinAnsi
encoding covers Spanish (á é í ó ú ü ñ ¿ ¡), and any rarer letter is reduced to its
unaccented form rather than printed as a box.

Lists and huddle sheets say "Page x of y" and "Confidential: contains PHI" on every page:
``DeferredCanvas`` holds the pages until the end so each page knows how many pages its
section (one provider's huddle, say) has. Letters and labels are drawn straight onto a
canvas, with word widths cached, because thousands of them must print in seconds.
"""

from __future__ import annotations

import os
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, Any, Union

from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER, landscape
from reportlab.lib.units import inch
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfgen import canvas as rl_canvas
from reportlab.platypus import Table, TableStyle

# Re-exported for the screens that still import them from here (ui/screens/outreach.py,
# ui/screens/huddle.py); new code imports them from core.documents / core.people.
from panelmanager.core.documents import DocumentResult
from panelmanager.core.people import long_date

__all__ = [
    "DocumentResult",
    "long_date",
    "CONFIDENTIAL",
    "DeferredCanvas",
    "FontSet",
    "LETTER_LANDSCAPE",
    "LETTER_PORTRAIT",
    "Letterhead",
    "Output",
    "TextMeasurer",
    "fonts",
    "pdf_text",
]

Output = Union[str, os.PathLike, IO[bytes]]

# Page streams are compressed; wrapping them in ASCII85 as well (reportlab's default)
# only makes files bigger and costs a fifth of the time of a large print run.
rl_config.useA85 = 0

LETTER_PORTRAIT = LETTER  # 612 x 792 points
LETTER_LANDSCAPE = landscape(LETTER)
CONFIDENTIAL = "Confidential: contains PHI"
INK = (0.12, 0.12, 0.12)
GREY = (0.38, 0.38, 0.38)
RULE = (0.55, 0.55, 0.55)

# --------------------------------------------------------------------------- fonts

# Searched in order: the first family whose three faces (regular, bold, italic) are all in
# one of the folders wins. DejaVu Sans on Linux (a practice may also drop the DejaVu files
# into resources/fonts to get the same look everywhere), Arial on Windows and macOS,
# Liberation Sans (Arial's metric twin) on other Linux systems. All cover Latin script
# well beyond Spanish (Vietnamese, Polish, Turkish names print as written).
_FAMILIES = (
    ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSans-Oblique.ttf"),
    ("arial.ttf", "arialbd.ttf", "ariali.ttf"),
    ("Arial.ttf", "Arial Bold.ttf", "Arial Italic.ttf"),
    ("LiberationSans-Regular.ttf", "LiberationSans-Bold.ttf", "LiberationSans-Italic.ttf"),
)
_FONT_DIRS = (
    "fonts",  # relative to resources/
    "/usr/share/fonts/truetype/dejavu",
    "/usr/share/fonts/dejavu",
    "/usr/share/fonts/TTF",
    "/usr/share/fonts/dejavu-sans-fonts",
    "/usr/share/fonts/truetype/liberation",
    "/usr/share/fonts/liberation-sans",
    "/usr/local/share/fonts",
    "/Library/Fonts",
    "/System/Library/Fonts/Supplemental",
    os.path.join(os.environ.get("WINDIR", r"C:\Windows"), "Fonts"),
)
FONT_ENV_VAR = "PANELMANAGER_PDF_FONT"  # "helvetica" forces the built-in font


@dataclass(frozen=True)
class FontSet:
    regular: str
    bold: str
    italic: str
    unicode: bool  # False: the built-in Helvetica, text is reduced to WinAnsi


def _font_files() -> tuple[Path, ...] | None:
    from panelmanager.core.resources import resources_dir

    folders = [Path(e) if os.path.isabs(e) else resources_dir() / e for e in _FONT_DIRS]
    for faces in _FAMILIES:
        for folder in folders:
            files = tuple(folder / face for face in faces)
            if all(f.is_file() for f in files):
                return files
    return None


@lru_cache(maxsize=2)
def fonts(prefer: str | None = None) -> FontSet:
    """The document fonts: DejaVu Sans, Arial or Liberation Sans when installed, else Helvetica.

    ``prefer="helvetica"`` (or ``PANELMANAGER_PDF_FONT=helvetica``) forces the built-in font.
    """
    choice = (prefer or os.environ.get(FONT_ENV_VAR) or "").strip().lower()
    if choice != "helvetica":
        files = _font_files()
        if files is not None:
            try:
                from reportlab.lib.fonts import addMapping
                from reportlab.pdfbase.ttfonts import TTFont

                names = ("PMSans", "PMSans-Bold", "PMSans-Oblique")
                for name, file in zip(names, files):
                    if name not in pdfmetrics.getRegisteredFontNames():
                        pdfmetrics.registerFont(TTFont(name, str(file)))
                addMapping("PMSans", 0, 0, "PMSans")
                addMapping("PMSans", 1, 0, "PMSans-Bold")
                addMapping("PMSans", 0, 1, "PMSans-Oblique")
                addMapping("PMSans", 1, 1, "PMSans-Bold")
                return FontSet("PMSans", "PMSans-Bold", "PMSans-Oblique", True)
            except Exception:  # a damaged font file: fall back rather than fail to print
                pass
    return FontSet("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", False)


_WINANSI_CACHE: dict[str, str] = {}


def _to_winansi(text: str) -> str:
    try:
        text.encode("cp1252")
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode("cp1252")
            out.append(ch)
        except UnicodeEncodeError:
            plain = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            try:
                plain.encode("cp1252")
                out.append(plain or "?")
            except UnicodeEncodeError:
                out.append({"ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ø": "o", "ı": "i"}.get(ch, "?"))
    return "".join(out)


def pdf_text(value: Any, fontset: FontSet | None = None) -> str:
    """Text ready to draw: missing values are empty; with Helvetica, rare letters lose their accents."""
    if value is None:
        return ""
    try:
        import pandas as pd

        if not isinstance(value, str) and pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    text = str(value)
    fontset = fontset or fonts()
    if fontset.unicode:
        return text
    cached = _WINANSI_CACHE.get(text)
    if cached is None:
        cached = _to_winansi(text)
        if len(_WINANSI_CACHE) < 200_000:
            _WINANSI_CACHE[text] = cached
    return cached


# --------------------------------------------------------------------------- measuring and wrapping


class TextMeasurer:
    """String widths and word wrapping with every word's width cached.

    Thousands of letters repeat the same words; reportlab's own ``simpleSplit`` measures
    each word every time, which is most of the cost of a large print run without the C
    accelerator.
    """

    def __init__(self) -> None:
        self._widths: dict[tuple[str, float], dict[str, float]] = {}
        self._wrapped: dict[tuple[str, str, float, float], list[str]] = {}

    def width(self, text: str, font: str, size: float) -> float:
        table = self._widths.get((font, size))
        if table is None:
            table = self._widths[(font, size)] = {}
        w = table.get(text)
        if w is None:
            w = table[text] = pdfmetrics.stringWidth(text, font, size)
        return w

    def wrap(self, text: str, font: str, size: float, max_width: float) -> list[str]:
        """Lines of at most ``max_width`` points (a word longer than a line is broken)."""
        key = (text, font, size, max_width)
        cached = self._wrapped.get(key)
        if cached is not None:
            return cached
        space = self.width(" ", font, size)
        lines: list[str] = []
        current: list[str] = []
        current_width = 0.0
        for word in text.split():
            w = self.width(word, font, size)
            if w > max_width:  # an address or URL with no spaces: break it by characters
                if current:
                    lines.append(" ".join(current))
                    current, current_width = [], 0.0
                piece = ""
                for ch in word:
                    if piece and self.width(piece + ch, font, size) > max_width:
                        lines.append(piece)
                        piece = ""
                    piece += ch
                current, current_width = [piece], self.width(piece, font, size)
                continue
            if current and current_width + space + w > max_width:
                lines.append(" ".join(current))
                current, current_width = [word], w
            else:
                current_width += (space if current else 0.0) + w
                current.append(word)
        if current:
            lines.append(" ".join(current))
        if len(self._wrapped) < 50_000:
            self._wrapped[key] = lines
        return lines

    def fit(self, text: str, font: str, size: float, max_width: float, min_size: float = 6.0) -> float:
        """The largest size not above ``size`` (down to ``min_size``) at which ``text`` fits."""
        width = self.width(text, font, size)
        if width <= max_width:
            return size
        return max(min_size, size * max_width / width)

    def clip(self, text: str, font: str, size: float, max_width: float) -> str:
        """``text`` cut with an ellipsis to fit ``max_width``."""
        if self.width(text, font, size) <= max_width:
            return text
        while text and self.width(text + "…", font, size) > max_width:
            text = text[:-1]
        return text.rstrip() + "…"


# --------------------------------------------------------------------------- letterhead


@dataclass(frozen=True)
class Letterhead:
    """The practice as it appears at the top of letters and lists."""

    practice_name: str = "Our Practice"
    address_lines: tuple[str, ...] = ()
    phone: str = ""
    logo_path: str = ""
    signature_path: str = ""
    signer_name: str = ""
    signer_title: str = ""

    @classmethod
    def from_settings(cls, settings) -> Letterhead:
        return cls(
            practice_name=settings.practice_name or "Our Practice",
            address_lines=split_address(settings.practice_address),
            phone=settings.practice_phone or "",
            logo_path=getattr(settings, "letter_logo_path", "") or "",
            signature_path=getattr(settings, "letter_signature_path", "") or "",
            signer_name=getattr(settings, "letter_signer_name", "") or "",
            signer_title=getattr(settings, "letter_signer_title", "") or "",
        )


def split_address(text: str | None) -> tuple[str, ...]:
    """``"1 Main St, Springfield, MA 01103"`` -> street line, city line (newlines are kept as given)."""
    text = (text or "").strip()
    if not text:
        return ()
    if "\n" in text:
        return tuple(line.strip() for line in text.splitlines() if line.strip())
    street, sep, rest = text.partition(",")
    if sep and rest.strip():
        return (street.strip(), rest.strip())
    return (text,)


@lru_cache(maxsize=8)
def _image_reader(path: str, mtime: float):
    from reportlab.lib.utils import ImageReader

    return ImageReader(path)


def image_reader(path: str | None):
    """A cached reportlab ImageReader for a logo/signature file, or None when it is missing or unreadable."""
    if not path:
        return None
    try:
        stat = os.stat(path)
        reader = _image_reader(str(path), stat.st_mtime)
        reader.getSize()
        return reader
    except Exception:
        return None


def fit_image(reader, max_w: float, max_h: float) -> tuple[float, float]:
    w, h = reader.getSize()
    scale = min(max_w / w, max_h / h)
    return w * scale, h * scale


# --------------------------------------------------------------------------- numbered pages


class DeferredCanvas(rl_canvas.Canvas):
    """A canvas that keeps its pages until ``save`` so each can say "Page x of y".

    ``section`` (any hashable, set by ``SectionMarker``) groups pages: numbering restarts
    for each section, so every provider's huddle pages read "Page 1 of 2", "Page 2 of 2".
    ``decorate(canvas, section, page, pages)`` draws headers and footers at save time.
    """

    decorate: Callable[[Any, Any, int, int], None] | None = None

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._held_pages: list[dict] = []
        self.section: Any = None

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._held_pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        totals = Counter(state["section"] for state in self._held_pages)
        seen: Counter = Counter()
        for state in self._held_pages:
            self.__dict__.update(state)
            seen[self.section] += 1
            if self.decorate is not None:
                self.decorate(self, self.section, seen[self.section], totals[self.section])
            super().showPage()
        super().save()

    @property
    def held_page_count(self) -> int:
        return len(self._held_pages)


def deferred_canvas_maker(decorate: Callable[[Any, Any, int, int], None]):
    """A canvas class for ``doc.build(canvasmaker=...)`` that draws headers/footers with ``decorate``."""

    class _Canvas(DeferredCanvas):
        pass

    _Canvas.decorate = staticmethod(decorate)
    return _Canvas


def section_marker(value: Any):
    """A zero-size flowable that starts a new numbering section where it is drawn."""
    from reportlab.platypus import Flowable

    class SectionMarker(Flowable):
        def wrap(self, availWidth, availHeight):  # noqa: N803
            return 0, 0

        def draw(self) -> None:
            self.canv.section = value

    return SectionMarker()


def draw_list_frame(
    canv,
    *,
    page_size: tuple[float, float],
    left_title: str,
    right_title: str,
    page: int,
    pages: int,
    margin: float = 0.4 * inch,
    fontset: FontSet | None = None,
) -> None:
    """Header (practice, document) and footer ("Confidential: contains PHI", "Page x of y") of a list page."""
    f = fontset or fonts()
    width, height = page_size
    canv.saveState()
    canv.setFillColorRGB(*INK)
    canv.setFont(f.bold, 10)
    canv.drawString(margin, height - margin + 2, pdf_text(left_title, f))
    canv.setFont(f.regular, 9)
    canv.drawRightString(width - margin, height - margin + 2, pdf_text(right_title, f))
    canv.setStrokeColorRGB(*RULE)
    canv.setLineWidth(0.6)
    canv.line(margin, height - margin - 4, width - margin, height - margin - 4)
    canv.line(margin, margin + 10, width - margin, margin + 10)
    canv.setFont(f.bold, 8)
    canv.drawString(margin, margin, CONFIDENTIAL)
    canv.setFont(f.regular, 8)
    canv.drawRightString(width - margin, margin, f"Page {page} of {pages}")
    canv.restoreState()


def list_table(data: list[list[Any]], col_widths: list[float], *, bottom_padding: float = 4, extra_style: Iterable[tuple] = ()):
    """The house table of every printed list: dark header row repeated on each page, ruled
    and boxed, every other row shaded. ``extra_style`` adds fonts or alignments of its own."""
    table = Table(data, colWidths=col_widths, repeatRows=1)
    style = [
        *extra_style,
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#3a4a5c")),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, colors.HexColor("#9a9a9a")),
        ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#6b6b6b")),
        ("LINEBEFORE", (1, 0), (-1, -1), 0.3, colors.HexColor("#c4c4c4")),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), bottom_padding),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
    ]
    style += [("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f3f5f7")) for i in range(2, len(data), 2)]
    table.setStyle(TableStyle(style))
    return table


LIST_MARGIN = 0.4 * inch


@dataclass(frozen=True)
class ListStyles:
    """The paragraph styles of a printed list: table cells, the white header row, the title and
    the note under it."""

    base: Any
    head: Any
    big: Any
    note: Any


def list_styles(f: FontSet) -> ListStyles:
    from reportlab.lib.styles import ParagraphStyle

    base = ParagraphStyle("cell", fontName=f.regular, fontSize=8.3, leading=10, textColor=colors.HexColor("#1f1f1f"))
    head = ParagraphStyle("head", parent=base, fontName=f.bold, textColor=colors.white)
    big = ParagraphStyle("title", parent=base, fontName=f.bold, fontSize=15, leading=18, spaceAfter=2)
    note = ParagraphStyle("note", parent=base, fontSize=9, leading=12, spaceAfter=8,
                          textColor=colors.HexColor("#444444"))
    return ListStyles(base, head, big, note)


def build_list_pdf(
    out: Output,
    story: list,
    *,
    title: str,
    practice: str,
    right_title: Callable[[Any], str],
    fontset: FontSet,
    template_id: str = "list",
    frame_id: str | None = None,
) -> int:
    """Build a landscape list document (call list, panel review, huddle sheet) from ``story``:
    the practice and ``right_title(section)`` at the top of each page, "Confidential: contains
    PHI" and "Page x of y" (counted per ``section_marker`` section) at the foot. Returns the
    number of pages."""
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    def decorate(canv, section, page, pages):
        draw_list_frame(canv, page_size=LETTER_LANDSCAPE, left_title=practice, right_title=right_title(section),
                        page=page, pages=pages, margin=LIST_MARGIN, fontset=fontset)

    doc = BaseDocTemplate(target(out), pagesize=LETTER_LANDSCAPE, leftMargin=LIST_MARGIN, rightMargin=LIST_MARGIN,
                          topMargin=LIST_MARGIN + 16, bottomMargin=LIST_MARGIN + 18, title=title,
                          author=pdf_text(practice, fontset), subject="Contains protected health information",
                          invariant=1)
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id=frame_id, leftPadding=0,
                  rightPadding=0, topPadding=0, bottomPadding=0)
    doc.addPageTemplates([PageTemplate(id=template_id, frames=[frame])])
    doc.build(story, canvasmaker=deferred_canvas_maker(decorate))
    return doc.page


def count_pages(data: bytes) -> int:
    """Pages in a PDF we wrote (for result summaries), without a PDF library."""
    import re

    return len(re.findall(rb"/Type\s*/Page[^s]", data))


def target(out: Output):
    """What reportlab accepts as an output: a path as text, or the file object itself.

    A path is created owner-only first (reportlab truncates it, keeping the mode): PDFs hold PHI.
    """
    if isinstance(out, (str, os.PathLike)):
        from panelmanager.core.safe_export import create_private

        create_private(out)
        return os.fspath(out)
    return out


def write_bytes(out: Output, data: bytes) -> None:
    if hasattr(out, "write"):
        out.write(data)
    else:
        from panelmanager.core.safe_export import create_private

        create_private(out)
        Path(out).write_bytes(data)


def chunks(items: Iterable[Any], size: int) -> Iterable[list[Any]]:
    batch: list[Any] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


