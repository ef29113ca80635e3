"""Real test documents of every supported format, written with the real libraries.

``make_good_corpus(dir)`` writes one teacher document per format, each about a different, easy to
recognise topic (``QUESTIONS`` holds paraphrased questions each one should answer, for search
tests). Broken and hostile files are in :mod:`teachbot_tui.testing.hostile`.
"""

from __future__ import annotations

import random
from pathlib import Path

from .documents import (
    ASSESSMENT_CHAPTERS,
    FLUENCY_PAGES,
    TRIP_ODT_BODY,
    docx_bytes,
    epub_bytes,
    odt_bytes,
    pdf_bytes,
    pdf_with_outline,
    pptx_bytes,
)

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
            pdf_with_outline(
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
