"""Real test documents of every supported format, written with the real libraries.

``make_good_corpus(dir)`` writes one teacher document per format, each about a different, easy to
recognise topic (``QUESTIONS`` holds paraphrased questions each one should answer, for search
tests). ``make_hostile_corpus(dir)`` writes files that are broken, hostile or odd in every way we
know of, each with the ParseError reason it must fail with, or None where it must parse.
"""

from __future__ import annotations

import io
import os
import random
import shutil
import zipfile
from pathlib import Path

# parse_file(path, max_bytes=HOSTILE_MAX_BYTES) is how the hostile corpus is read, so that the
# "huge" files need not be 200 MB.
HOSTILE_MAX_BYTES = 1024 * 1024

# Questions phrased differently from the documents' own words, by corpus key.
QUESTIONS: dict[str, list[str]] = {
    "behaviour_md": [
        "How should I handle a student who keeps disrupting the lesson?",
        "What happens after a pupil ignores a warning?",
    ],
    "fluency_pdf": [
        "How do I help a child read more smoothly and with expression?",
        "How do I measure how many words a pupil reads accurately in a minute?",
    ],
    "parents_docx": [
        "How do I prepare for a tricky meeting with a mum or dad?",
        "What should my first email home say when a child is struggling?",
    ],
    "routines_pptx": [
        "How can I make moving between activities quicker and calmer?",
        "What should students do as soon as they walk into the room?",
    ],
    "iep_html": [
        "What adjustments can I make for a pupil with an individual education plan?",
        "Can a student with additional needs get more time in tests?",
    ],
    "assessment_epub": [
        "How can I check understanding at the end of a lesson?",
        "How do I write a multiple-choice question that reveals misconceptions?",
    ],
    "trip_odt": [
        "What paperwork do I need before taking the class on an outing?",
    ],
    "homework_txt": ["How much homework should a ten-year-old get each night?"],
    "lunch_utf16_txt": ["Who supervises the playground at midday?"],
    "cafe_cp1252_txt": ["What does the breakfast club cost?"],
    "groups_csv": ["Which reading group is Amara in?"],
    "substitute_rtf": ["What should a cover teacher find on my desk?"],
    "wellbeing_md": ["How can I check in on how my students are feeling each morning?"],
}


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


def _pdf_with_outline(data: bytes, outline: list[tuple[str, int]]) -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(data)))
    for title, page_index in outline:
        writer.add_outline_item(title=title, page_number=page_index)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _pdf_encrypted(data: bytes, user_password: str) -> bytes:
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


# --------------------------------------------------------------------------------------------
# Text formats

BEHAVIOUR_MD = """---
title: Behaviour Policy
topic: Behaviour management
category: policy
---

# Behaviour policy

Our school expects every pupil to be ready, respectful and safe.

## Expectations

- Arrive on time with the right equipment.
- Listen when an adult or another pupil is speaking.
- Move around the building calmly.

## Escalation

When a pupil disrupts learning, staff follow the same steps so responses are consistent.

### Step 1: Quiet reminder

A private, calm reminder of the expectation, given close to the pupil and without an audience.

### Step 2: Warning and consequence

If the disruption continues, give a clear warning naming the consequence, such as moving seats or
a short time-out in a partner classroom.

Restorative conversation
------------------------

After any consequence, the teacher and pupil talk through what happened, who was affected and
how to put it right.

| Step | Who | Logged? |
|------|-----|---------|
| Reminder | Class teacher | No |
| Time-out | Class teacher | Yes |
"""

WELLBEING_MD = """Morning wellbeing check-in
==========================

Ask pupils to place a named peg on a feelings chart as they arrive: green, yellow or red.

Following up
------------

Talk privately to any child on red before the first lesson starts.
"""

HOMEWORK_TXT = (
    "Homework policy \u2013 Year 5\n\n"
    "Pupils in Year 5 are set about twenty minutes of homework each weeknight.\n"
    "This includes their \u201creading log\u201d and one maths task.\n\n"
    "- Homework is set on Monday and due on Friday.\n"
    "- Late work is followed up by the class teacher, not with a detention.\n\n"
    "Na\u00efve over-setting does more harm than good: quality matters more than quantity.\n"
)

LUNCH_TXT = (
    "Lunchtime duty rota\r\n\r\n"
    "Two adults supervise the playground from 12:15 to 13:00 every day.\r\n"
    "The midday supervisor on the field carries the first-aid bag and a radio.\r\n"
)

CAFE_TXT = (
    "Breakfast club notes\n\n"
    "The caf\u00e9 opens at 7:45 \u2013 pupils\u2019 places cost \u00a32 per morning.\n"
    "\u201cQuiet zone\u201d tables are for reading\u2026 no devices.\n"
)

IEP_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>IEP Accommodations Guide</title>
<style>body { color: red; }</style>
<script>var tracking = "should never appear";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About this site</a></nav>
<h1>IEP accommodations</h1>
<p>An individual education plan lists the <b>accommodations</b> a pupil is entitled to.
   Teachers apply them in every lesson, not just in tests.</p>
<h2>Extended time</h2>
<p>Pupils with processing difficulties may receive 25% extra time on assessments.</p>
<h2>Preferential seating</h2>
<ul><li>Seat the pupil near the front, away from the door.</li>
<li>Keep the line of sight to the board clear.</li></ul>
<table><tr><th>Need</th><th>Accommodation</th></tr>
<tr><td>Hearing</td><td>Written copy of instructions</td></tr></table>
<script>document.write("also hidden")</script>
</body></html>
"""

GROUPS_CSV = (
    "Pupil,Reading group,Book band\n"
    "Amara,Kingfishers,Turquoise\n"
    "Ben,Owls,Purple\n"
    "Chen,Kingfishers,Turquoise\n"
)

SUBSTITUTE_RTF = (
    r"{\rtf1\ansi\ansicpg1252\deff0{\fonttbl{\f0 Arial;}}"
    r"\f0\fs24 Substitute teacher plans\par\par "
    r"Leave the seating plan, the register and the day\rquote s lesson plans in the red folder "
    r"on the desk.\par "
    r"The behaviour lead is in room 12 if support is needed.\par}"
)


def make_good_corpus(directory: Path) -> dict[str, Path]:
    """Write one document of each format into ``directory``; return them by key."""
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, tuple[str, bytes]] = {
        "behaviour_md": ("behaviour-policy.md", BEHAVIOUR_MD.encode()),
        "wellbeing_md": ("wellbeing-checkin.markdown", b"\xef\xbb\xbf" + WELLBEING_MD.encode()),
        "fluency_pdf": (
            "reading-fluency.pdf",
            _pdf_with_outline(
                pdf_bytes(FLUENCY_PAGES, title="Reading Fluency Handout"),
                [("What fluency is", 0), ("Repeated reading", 1), ("Measuring progress", 2)],
            ),
        ),
        "parents_docx": ("parent-communication.docx", docx_bytes()),
        "routines_pptx": ("classroom-routines.pptx", pptx_bytes()),
        "iep_html": ("iep-accommodations.html", IEP_HTML.encode()),
        "assessment_epub": (
            "formative-assessment.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Formative Assessment in Practice"),
        ),
        "trip_odt": ("field-trip.odt", odt_bytes(TRIP_ODT_BODY, "Field Trip Planning")),
        "homework_txt": ("homework-policy.txt", HOMEWORK_TXT.encode()),
        "lunch_utf16_txt": ("lunch-duty.txt", LUNCH_TXT.encode("utf-16")),
        "cafe_cp1252_txt": ("breakfast-club.txt", CAFE_TXT.encode("cp1252")),
        "groups_csv": ("reading-groups.csv", GROUPS_CSV.encode()),
        "substitute_rtf": ("substitute-plans.rtf", SUBSTITUTE_RTF.encode("ascii")),
    }
    paths = {}
    for key, (name, data) in files.items():
        path = directory / name
        path.write_bytes(data)
        paths[key] = path
    return paths


def long_document_markdown(sections: int = 40, paragraphs: int = 6) -> str:
    """A long, varied Markdown book (for chunking tests): numbered sections and sentences."""
    rng = random.Random(7)
    words = [
        "pupil",
        "teacher",
        "lesson",
        "reading",
        "group",
        "feedback",
        "question",
        "routine",
        "parent",
        "homework",
        "assessment",
        "behaviour",
        "seating",
        "timer",
        "target",
        "praise",
        "phonics",
        "fluency",
        "vocabulary",
    ]
    out = ["# Handbook", ""]
    for s in range(sections):
        out += [f"## Section {s}", ""]
        for p in range(paragraphs):
            sentences = []
            for k in range(rng.randint(2, 9)):
                body = " ".join(rng.choice(words) for _ in range(rng.randint(5, 25)))
                sentences.append(f"Sentence {s}.{p}.{k} says {body}.")
            out += [" ".join(sentences), ""]
    return "\n".join(out)


# --------------------------------------------------------------------------------------------
# Hostile files


def _rewrite_zip(data: bytes, drop: set[str]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            if info.filename not in drop:
                z.writestr(info, source.read(info.filename))
    return out.getvalue()


def _nested_docx(data: bytes, depth: int) -> bytes:
    """A docx whose body holds elements nested ``depth`` deep."""
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in source.infolist():
            member = source.read(info.filename)
            if info.filename == "word/document.xml":
                nested = b"<w:p>" + b"<a>" * depth + b"</a>" * depth + b"</w:p>"
                member = member.replace(b"<w:body>", b"<w:body>" + nested, 1)
            z.writestr(info, member)
    return out.getvalue()


def _zip_bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("word/document.xml", "w") as member:
            zeros = b"\0" * (1 << 20)
            for _ in range(24):
                member.write(zeros)
    return out.getvalue()


def make_hostile_corpus(
    directory: Path, *, fifo: bool = False
) -> dict[str, tuple[Path, str | None]]:
    """Write hostile files; return name -> (path, expected ParseError reason or None = parses).

    Read them with ``parse_file(path, max_bytes=HOSTILE_MAX_BYTES)``. ``fifo=True`` adds a
    named pipe called pipe.txt: anything that opens it before checking it is a regular file
    blocks forever, so only code that checks first should ask for it.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1234)
    good_pdf = pdf_bytes(FLUENCY_PAGES, title="Reading Fluency Handout")
    good_docx = docx_bytes()
    good_pptx = pptx_bytes()
    files: dict[str, tuple[str, bytes, str | None]] = {
        # PDF
        "pdf-truncated": ("truncated.pdf", good_pdf[:120], "corrupt"),
        "pdf-garbage": ("garbage.pdf", b"%PDF-1.7\n" + rng.randbytes(20_000), "corrupt"),
        "pdf-not-a-pdf": ("page.pdf", IEP_HTML.encode(), "corrupt"),
        "pdf-encrypted": ("locked.pdf", _pdf_encrypted(good_pdf, "secret"), "encrypted"),
        "pdf-owner-password-only": ("restricted.pdf", _pdf_encrypted(good_pdf, ""), None),
        "pdf-no-text": ("scan.pdf", pdf_bytes([[], []]), "empty"),
        "pdf-deep-nesting": (
            "nested.pdf",
            good_pdf.replace(
                b"/MediaBox", b"/Junk " + b"[" * 50_000 + b"]" * 50_000 + b" /MediaBox"
            ),
            "corrupt",
        ),
        # Office and ebook zips
        "docx-random-bytes": ("random.docx", rng.randbytes(5000), "corrupt"),
        "docx-no-document-xml": (
            "hollow.docx",
            _rewrite_zip(good_docx, {"word/document.xml"}),
            "corrupt",
        ),
        "docx-is-a-pptx": ("renamed.docx", good_pptx, "corrupt"),
        "docx-zip-bomb": ("bomb.docx", _zip_bomb(), "huge"),
        "docx-deep-nesting": ("nested.docx", _nested_docx(good_docx, 5000), "corrupt"),
        "docx-no-text": ("blank.docx", docx_bytes(empty=True), "empty"),
        "pptx-truncated": ("cut.pptx", good_pptx[: len(good_pptx) // 2], "corrupt"),
        "pptx-no-text": ("blank.pptx", pptx_bytes(blank=True), "empty"),
        "epub-no-container": (
            "nocontainer.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", container=False),
            None,
        ),
        "epub-no-package": (
            "nopackage.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", container=False, opf=False),
            "corrupt",
        ),
        "epub-all-spine-missing": (
            "hollow.epub",
            epub_bytes(
                ASSESSMENT_CHAPTERS,
                "Book",
                missing=frozenset({"chapter1.xhtml", "chapter2.xhtml"}),
            ),
            "corrupt",
        ),
        "epub-one-spine-missing": (
            "partial.epub",
            epub_bytes(ASSESSMENT_CHAPTERS, "Book", missing=frozenset({"chapter1.xhtml"})),
            None,
        ),
        "odt-no-content": ("nocontent.odt", odt_bytes(None, "Title"), "corrupt"),
        "odt-bad-xml": ("badxml.odt", odt_bytes(TRIP_ODT_BODY, bad_xml=True), "corrupt"),
        "odt-random-bytes": ("random.odt", rng.randbytes(3000), "corrupt"),
        # text that is not text
        "txt-elf": ("program.txt", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8, "binary"),
        "md-png": ("image.md", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary"),
        "txt-zip": ("archive.txt", good_docx, "binary"),
        "txt-mostly-nul": ("nuls.txt", b"abc" + b"\x00" * 4000 + b"def", "binary"),
        "txt-invalid-utf8-soup": (
            "soup.txt",
            bytes(
                rng.choice([0x81, 0x8D, 0x8F, 0x90, 0x9D, 0xC0, 0xC1, 0xF5, 0xFF, 0x98])
                for _ in range(4000)
            ),
            "undecodable",
        ),
        "txt-huge": ("huge.txt", b"All work and no play. " * 60_000, "huge"),
        # odd but fine
        "txt-few-nuls": (
            "nulls.txt",
            b"Seating plan\x00 for Year 4.\n\nPut the\x00 quiet table by the window.\x00\n",
            None,
        ),
        "txt-utf16-no-bom": ("nobom.txt", "Register is taken at 8:50.\n".encode("utf-16-le"), None),
        "txt-markup-and-escapes": (
            "escapes.txt",
            (
                b"[bold red]Warning[/] read this [link=http://x]now[/link]\n\n"
                b"Colours \x1b[31mred\x1b[0m and a \x1b]8;;http://evil.example\x07click here"
                b"\x1b]8;;\x07 link.\n\nBell\x07 and backspace\x08 and form\x0cfeed.\n"
            ),
            None,
        ),
        "txt-one-giant-word": ("giant.txt", b"x" * 300_000, None),
        "md-yaml-bomb": (
            "bomb.md",
            (
                b"---\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
                b"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                b"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                b"title: Still fine\n---\n# Heading\n\nBody text survives.\n"
            ),
            None,
        ),
        "md-yaml-deep-nesting": (
            "deepyaml.md",
            b"---\nx: " + b"[" * 5000 + b"]" * 5000 + b"\n---\n# Title\n\nBody.\n",
            None,
        ),
        "md-front-matter-only": ("fm.md", b"---\ntitle: Nothing else\n---\n\n", "empty"),
        "md-unclosed-front-matter": ("open.md", b"---\ntitle: x\n\nJust text here.\n", None),
        "html-scripts-only": (
            "scripts.html",
            b"<html><head><script>alert(1)</script></head><body><script>x()</script>"
            b"<style>p{}</style><nav>Menu</nav></body></html>",
            "empty",
        ),
        "html-deep-nesting": (
            "deep.html",
            b"<html><body>" + b"<div>" * 30_000 + b"Deep text" + b"</div>" * 30_000 + b"</body>",
            None,
        ),
        "html-charset-lie": (
            "lie.html",
            '<meta charset="utf-8"><p>Caf\u00e9 \u2013 \u201cquoted\u201d</p>'.encode("cp1252"),
            None,
        ),
        "csv-giant-field": ("wide.csv", b'a,b\n"' + b"y " * 100_000 + b'",z\n', None),
        "rtf-not-rtf": ("fake.rtf", b"This is just text pretending.", "corrupt"),
        "txt-whitespace-only": ("blank.txt", b"  \n\t\r\n   \n", "empty"),
        "txt-controls-only": ("controls.txt", b"\x01\x02\x03\x04\x05\x06" * 100, "binary"),
        "unsupported-suffix": ("notes.xyz", b"hello", "unsupported"),
        "unsupported-doc": (
            "legacy.doc",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500),
            "unsupported",
        ),
    }
    for suffix in (
        ".txt",
        ".md",
        ".markdown",
        ".pdf",
        ".docx",
        ".pptx",
        ".html",
        ".htm",
        ".epub",
        ".odt",
        ".csv",
        ".rtf",
    ):
        files[f"zero-byte{suffix}"] = (f"zero{suffix}", b"", "empty")

    result: dict[str, tuple[Path, str | None]] = {}
    for key, (name, data, reason) in files.items():
        path = directory / name
        path.write_bytes(data)
        result[key] = (path, reason)

    folder = directory / "folder.md"
    folder.mkdir(exist_ok=True)
    result["directory"] = (folder, None)  # a folder named like a document is walked as one

    loop_a, loop_b = directory / "loop-a.txt", directory / "loop-b.txt"
    for link, target in ((loop_a, loop_b), (loop_b, loop_a)):
        if link.is_symlink():
            link.unlink()
        link.symlink_to(target.name)
    result["symlink-loop"] = (loop_a, "symlink-loop")

    dangling = directory / "dangling.md"
    if dangling.is_symlink():
        dangling.unlink()
    dangling.symlink_to("no-such-file.md")
    result["dangling-symlink"] = (dangling, "vanished")
    result["nonexistent"] = (directory / "never-existed.pdf", "vanished")

    pipe = directory / "pipe.txt"
    if fifo and hasattr(os, "mkfifo"):
        if not pipe.exists():
            os.mkfifo(pipe)
        result["fifo"] = (pipe, "unreadable")

    if hasattr(os, "geteuid") and os.geteuid() != 0:  # root reads through chmod 000
        locked = directory / "locked.txt"
        locked.write_text("You cannot read me.")
        locked.chmod(0)
        result["unreadable"] = (locked, "unreadable")
    return result


def remove_hostile_corpus(directory: Path) -> None:
    """Delete a hostile corpus, first undoing chmod 000 so nothing is left behind."""
    if not directory.exists():
        return
    for path in directory.iterdir():
        if not path.is_symlink() and path.is_file():
            path.chmod(0o644)
    shutil.rmtree(directory, ignore_errors=True)
