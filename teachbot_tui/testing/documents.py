"""Real documents of every supported format, written with the real libraries (or by hand
where a library cannot lay out text, as for PDF): the building blocks of the test corpora."""

from __future__ import annotations

import io
import zipfile

# --------------------------------------------------------------------------------------------
# Hand-built PDF (pypdf can read and encrypt, but not lay out text)


def _pdf_escape(text: str) -> bytes:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)").encode("latin-1")


def pdf_bytes(pages: list[list[str]], title: str | None = None) -> bytes:
    """A valid PDF with Helvetica text: each page is a list of lines ("" for a blank line).

    A line starting with "# " is drawn larger, as a heading.
    """
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    pages_obj = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for lines in pages:
        ops = [b"BT", b"/F1 11 Tf", b"15 TL", b"72 760 Td"]
        for line in lines:
            if line.startswith("# "):
                ops += [b"/F1 16 Tf", b"(" + _pdf_escape(line[2:]) + b") Tj", b"T*", b"/F1 11 Tf"]
            elif line:
                ops += [b"(" + _pdf_escape(line) + b") Tj", b"T*"]
            else:
                ops.append(b"T*")
        ops.append(b"ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                % (pages_obj, font, content)
            )
        )
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects[pages_obj - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R >>" % pages_obj
    info = add(b"<< /Title (" + _pdf_escape(title) + b") >>") if title else None

    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, catalog)
    if info:
        trailer += b" /Info %d 0 R" % info
    out.write(b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref)
    return out.getvalue()


def pdf_with_outline(data: bytes, outline: list[tuple[str, int]]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for title, page_index in outline:
        writer.add_outline_item(title=title, page_number=page_index)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def pdf_encrypted(data: bytes, user_password: str) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


FLUENCY_PAGES = [
    [
        "# What reading fluency is",
        "Fluent readers read accurately, at a natural pace, and with expression.",
        "Prosody means the rise and fall of the voice that shows a reader understands",
        "the punctuation and the meaning of the sentence.",
        "",
        "A dysfluent reader spends effort decoding single words and loses the thread.",
    ],
    [
        "# The repeated reading routine",
        "Pick a passage of about 150 words at the pupil's instructional level.",
        "Model it first with echo reading: you read a sentence, the pupil repeats it.",
        "",
        "The pupil then rereads the same passage three or four times across the week,",
        "with a partner who follows along and marks any miscues.",
    ],
    [
        "# Measuring progress",
        "Time a one-minute cold read and count words correct per minute (WCPM).",
        "Subtract the miscues from the total words attempted.",
        "",
        "Chart the WCPM score every fortnight so the pupil can see the line climb.",
    ],
]


# --------------------------------------------------------------------------------------------
# Zip-based formats by hand: EPUB and ODT


def epub_bytes(
    chapters: list[tuple[str, str]],
    title: str,
    *,
    container: bool = True,
    opf: bool = True,
    missing: frozenset[str] = frozenset(),
) -> bytes:
    """An EPUB 3: chapters are (file name, XHTML body); ``missing`` names chapters left out."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        if container:
            z.writestr(
                "META-INF/container.xml",
                '<?xml version="1.0"?>\n<container version="1.0" '
                'xmlns="urn:oasis:names:tc:opendocument:xmlns:container"><rootfiles>'
                '<rootfile full-path="OEBPS/content.opf" '
                'media-type="application/oebps-package+xml"/></rootfiles></container>',
            )
        # the manifest lists chapters in reverse, so only the spine gives the reading order
        items = "".join(
            f'<item id="c{i}" href="{name}" media-type="application/xhtml+xml"/>'
            for i, (name, _) in reversed(list(enumerate(chapters)))
        )
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        if opf:
            z.writestr(
                "OEBPS/content.opf",
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<package xmlns="http://www.idpf.org/2007/opf" version="3.0" '
                'unique-identifier="id"><metadata xmlns:dc="http://purl.org/dc/elements/1.1/">'
                f'<dc:identifier id="id">urn:uuid:1234</dc:identifier><dc:title>{title}</dc:title>'
                f"<dc:language>en</dc:language></metadata><manifest>{items}</manifest>"
                f"<spine>{spine}</spine></package>",
            )
        for name, body in chapters:
            if name in missing:
                continue
            z.writestr(
                f"OEBPS/{name}",
                '<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html>\n'
                '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>x</title></head>'
                f"<body>{body}</body></html>",
            )
    return out.getvalue()


ASSESSMENT_CHAPTERS = [
    (
        "chapter1.xhtml",
        "<h1>Exit tickets</h1><p>An exit ticket is a short question pupils answer on a slip "
        "of paper in the last three minutes of the lesson.</p><p>Sort the slips into three "
        "piles &#8212; got it, nearly, not yet &#8212; and plan tomorrow's starter from the "
        "piles.</p>",
    ),
    (
        "chapter2.xhtml",
        "<h1>Hinge questions</h1><p>A hinge question is a diagnostic multiple-choice question "
        "asked at the pivot point of a lesson.</p><h2>Writing distractors</h2><p>Each wrong "
        "option should match a known misconception, so every answer tells you what the pupil "
        "is thinking.</p>",
    ),
]

_ODT_NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:meta="urn:oasis:names:tc:opendocument:xmlns:meta:1.0"'
)

TRIP_ODT_BODY = (
    '<text:h text:outline-level="1">Field trip planning</text:h>'
    "<text:p>Plan the visit at least six weeks ahead and book the coach early.</text:p>"
    '<text:h text:outline-level="2">Permission slips</text:h>'
    '<text:p>Every pupil needs a signed consent form<text:s text:c="3"/>and an emergency '
    '<text:span text:style-name="T1">contact number</text:span> before the day.</text:p>'
    "<text:list><text:list-item><text:p>Collect dietary and medical information.</text:p>"
    "</text:list-item></text:list>"
    '<text:h text:outline-level="2">Risk assessment</text:h>'
    "<text:p>Walk the route beforehand and note hazards such as roads and water.</text:p>"
    "<table:table><table:table-row><table:table-cell><text:p>Adults</text:p></table:table-cell>"
    "<table:table-cell><text:p>One per eight pupils</text:p></table:table-cell></table:table-row>"
    "</table:table>"
)


def odt_bytes(body: str | None, title: str | None = None, *, bad_xml: bool = False) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "mimetype", "application/vnd.oasis.opendocument.text", compress_type=zipfile.ZIP_STORED
        )
        if title:
            z.writestr(
                "meta.xml",
                f'<?xml version="1.0"?><office:document-meta {_ODT_NS}><office:meta>'
                f"<dc:title>{title}</dc:title></office:meta></office:document-meta>",
            )
        if body is not None:
            content = (
                f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {_ODT_NS}>'
                f"<office:body><office:text><text:sequence-decls/>{body}</office:text>"
                "</office:body></office:document-content>"
            )
            z.writestr("content.xml", content[:-40] if bad_xml else content)
    return out.getvalue()


# --------------------------------------------------------------------------------------------
# Office formats with python-docx / python-pptx


def docx_bytes(empty: bool = False) -> bytes:
    import docx

    document = docx.Document()
    document.core_properties.title = "" if empty else "Parent Communication Guide"
    if not empty:
        document.add_heading("Parent Communication Guide", level=0)
        document.add_paragraph(
            "Good relationships with families start before there is a problem to discuss."
        )
        document.add_heading("Before the meeting", level=1)
        document.add_heading("Preparing evidence", level=2)
        document.add_paragraph(
            "Bring two or three dated examples of the pupil's work and your notes on "
            "attendance, so the conversation rests on facts rather than impressions."
        )
        document.add_heading("Difficult conversations", level=1)
        document.add_paragraph(
            "Open with something the child does well, then describe the concern in one "
            "sentence and ask the parent what they see at home."
        )
        document.add_paragraph("Agree one next step and a date to review it.", style="List Bullet")
        table = document.add_table(rows=3, cols=3)
        rows = [
            ("Situation", "First message home", "Follow-up"),
            ("Missing homework", "A friendly note with the dates missed", "Call after a week"),
            ("Falling grades", "Email offering a meeting time", "Share a support plan"),
        ]
        for row, values in zip(table.rows, rows, strict=True):
            for cell, value in zip(row.cells, values, strict=True):
                cell.text = value
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def pptx_bytes(blank: bool = False) -> bytes:
    import pptx
    from pptx.util import Inches

    presentation = pptx.Presentation()
    presentation.core_properties.title = "Classroom Routines"
    if blank:
        presentation.slides.add_slide(presentation.slide_layouts[6])
    else:
        slides = [
            (
                "Entry routine",
                ["Greet pupils at the door", "A do-now task is on the board before they sit"],
                None,
            ),
            (
                "Transitions between activities",
                ["Use a countdown from five", "Practise the switch until it takes ten seconds"],
                "Time the class with a stopwatch and celebrate a new record.",
            ),
            ("Ending the lesson", ["Chairs tucked in, then dismiss by table"], None),
        ]
        for title, bullets, notes in slides:
            slide = presentation.slides.add_slide(presentation.slide_layouts[1])
            slide.shapes.title.text = title
            body = slide.placeholders[1].text_frame
            body.text = bullets[0]
            for bullet in bullets[1:]:
                body.add_paragraph().text = bullet
            if notes:
                slide.notes_slide.notes_text_frame.text = notes
        # a text box on the last slide, below the body
        box = presentation.slides[2].shapes.add_textbox(
            Inches(1), Inches(6.5), Inches(6), Inches(0.5)
        )
        box.text_frame.text = "Exit quietly and hold the door for the next class."
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


