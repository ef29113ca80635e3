from __future__ import annotations

import codecs
import io
import pickle
import random
import re
import zipfile
from pathlib import Path

import pytest

from teachbot_tui.library.formats import (
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    ParsedDocument,
    ParseError,
    parse_bytes,
    parse_file,
    read_text_file,
)
from teachbot_tui.testing.corpus import make_good_corpus
from teachbot_tui.testing.hostile import HOSTILE_MAX_BYTES, make_hostile_corpus

_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return make_good_corpus(tmp_path_factory.mktemp("good"))


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, str | None]]:
    return make_hostile_corpus(tmp_path_factory.mktemp("hostile"), fifo=True)


@pytest.fixture(scope="module")
def docs(good: dict[str, Path]) -> dict[str, ParsedDocument]:
    return {key: parse_file(path) for key, path in good.items()}


def _texts(doc: ParsedDocument) -> list[str]:
    return [b.text for b in doc.blocks]


def test_supported_suffixes() -> None:
    expected = [
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
    ]
    assert set(expected) <= SUPPORTED_SUFFIXES
    assert MAX_FILE_BYTES == 200 * 1024 * 1024


def test_every_good_document_is_consistent(docs: dict[str, ParsedDocument]) -> None:
    for key, doc in docs.items():
        assert doc.blocks, key
        assert doc.text == "\n\n".join(b.text for b in doc.blocks), key
        previous_end = -2
        for block in doc.blocks:
            assert doc.text[block.start : block.end] == block.text, key
            assert block.start == previous_end + 2, key
            assert block.text.strip() == block.text and block.text, key
            assert "\n\n" not in block.text, key
            previous_end = block.end
        assert not _CONTROL.search(doc.text), key
        assert doc.meta["format"], key


def test_markdown_front_matter_and_headings(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["behaviour_md"]
    assert doc.title == "Behaviour Policy"
    assert doc.topic == "Behaviour management"
    assert doc.meta["category"] == "policy"
    assert doc.meta["encoding"] == "utf-8"
    assert "category:" not in doc.text and "---" not in doc.text
    by_text = {b.text: b for b in doc.blocks}
    assert by_text["Escalation"].is_heading
    assert by_text["Escalation"].heading == "Behaviour policy > Escalation"
    step2 = next(b for b in doc.blocks if b.text.startswith("If the disruption continues"))
    assert step2.heading == "Behaviour policy > Escalation > Step 2: Warning and consequence"
    assert not step2.is_heading
    # a setext heading (underlined with ---) at level 2 pops the level-3 step
    restorative = next(b for b in doc.blocks if b.text.startswith("After any consequence"))
    assert restorative.heading == "Behaviour policy > Restorative conversation"
    assert by_text["Restorative conversation"].is_heading
    # list items and table rows are their own blocks; the table's rule row is dropped
    assert "- Listen when an adult or another pupil is speaking." in by_text
    assert "Time-out | Class teacher | Yes" in by_text
    assert not any(set(t) <= set("|- ") for t in _texts(doc))
    # a wrapped paragraph is one block with its line break collapsed
    assert any(
        t.endswith("such as moving seats or a short time-out in a partner classroom.")
        for t in _texts(doc)
    )


def test_markdown_with_bom_and_setext_title(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["wellbeing_md"]
    assert doc.meta["encoding"] == "utf-8-sig"
    assert doc.title == "Morning wellbeing check-in"
    assert doc.topic == doc.title
    assert doc.blocks[0].is_heading and doc.blocks[0].text == "Morning wellbeing check-in"
    assert doc.blocks[-1].heading == "Morning wellbeing check-in > Following up"
    assert "\ufeff" not in doc.text


def test_pdf_pages_outline_and_title(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["fluency_pdf"]
    assert doc.meta["pages"] == "3"
    assert doc.title == "Reading Fluency Handout"
    assert {b.page for b in doc.blocks} == {1, 2, 3}

    def page_of(fragment: str) -> int | None:
        return next(b.page for b in doc.blocks if fragment in b.text)

    assert page_of("Prosody means") == 1
    assert page_of("echo reading") == 2
    assert page_of("words correct per minute") == 3
    # the lines of one paragraph are joined; the heading line stands alone
    prosody = next(b for b in doc.blocks if "Prosody" in b.text)
    assert "understands the punctuation" in prosody.text
    assert any(b.text == "The repeated reading routine" for b in doc.blocks)
    # bookmarks give the heading path, page by page
    assert next(b for b in doc.blocks if b.page == 2).heading == "Repeated reading"
    assert next(b for b in doc.blocks if b.page == 3).heading == "Measuring progress"


def test_docx_headings_title_and_table(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["parents_docx"]
    assert doc.title == "Parent Communication Guide"
    evidence = next(b for b in doc.blocks if b.text.startswith("Bring two or three"))
    assert evidence.heading == (
        "Parent Communication Guide > Before the meeting > Preparing evidence"
    )
    assert evidence.page is None
    headings = [b.text for b in doc.blocks if b.is_heading]
    assert headings == [
        "Parent Communication Guide",
        "Before the meeting",
        "Preparing evidence",
        "Difficult conversations",
    ]
    row = next(b for b in doc.blocks if b.text.startswith("Missing homework"))
    assert (
        row.text == "Missing homework | A friendly note with the dates missed | Call after a week"
    )
    assert row.heading == "Parent Communication Guide > Difficult conversations"


def test_pptx_slides_titles_and_notes(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["routines_pptx"]
    assert doc.meta["slides"] == "3"
    assert doc.title == "Classroom Routines"
    slide_titles = [(b.page, b.text) for b in doc.blocks if b.is_heading]
    assert slide_titles == [
        (1, "Entry routine"),
        (2, "Transitions between activities"),
        (3, "Ending the lesson"),
    ]
    notes = next(b for b in doc.blocks if "stopwatch" in b.text)
    assert notes.page == 2 and notes.text.startswith("Notes: ")
    assert notes.heading == "Transitions between activities"
    texts = _texts(doc)
    # reading order on a slide: title, body, then the text box placed below it
    assert texts.index("Chairs tucked in, then dismiss by table") < texts.index(
        "Exit quietly and hold the door for the next class."
    )
    assert next(b for b in doc.blocks if b.text.startswith("Exit quietly")).page == 3


def test_html_drops_scripts_and_nav(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["iep_html"]
    assert doc.title == "IEP Accommodations Guide"
    for hidden in ("tracking", "also hidden", "About this site", "color: red"):
        assert hidden not in doc.text
    extended = next(b for b in doc.blocks if "25% extra time" in b.text)
    assert extended.heading == "IEP accommodations > Extended time"
    assert "Seat the pupil near the front, away from the door." in _texts(doc)
    assert "Hearing | Written copy of instructions" in _texts(doc)
    # inline tags and source line breaks do not break a paragraph
    assert any(
        t.startswith("An individual education plan lists the accommodations a pupil")
        for t in _texts(doc)
    )


def test_epub_spine_order_and_title(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["assessment_epub"]
    assert doc.title == "Formative Assessment in Practice"
    headings = [b.text for b in doc.blocks if b.is_heading]
    assert headings == ["Exit tickets", "Hinge questions", "Writing distractors"]
    misconception = next(b for b in doc.blocks if "misconception" in b.text)
    assert misconception.heading == "Hinge questions > Writing distractors"
    assert "\u2014 got it, nearly, not yet \u2014" in doc.text  # entities decoded
    assert doc.meta["chapters"] == "2"


def test_odt_outline_levels_and_spaces(docs: dict[str, ParsedDocument]) -> None:
    doc = docs["trip_odt"]
    assert doc.title == "Field Trip Planning"
    consent = next(b for b in doc.blocks if "consent form" in b.text)
    assert consent.text == (
        "Every pupil needs a signed consent form and an emergency contact number before the day."
    )
    assert consent.heading == "Field trip planning > Permission slips"
    hazards = next(b for b in doc.blocks if "hazards" in b.text)
    assert hazards.heading == "Field trip planning > Risk assessment"
    assert "Adults | One per eight pupils" in _texts(doc)
    assert "Collect dietary and medical information." in _texts(doc)


def test_text_encodings(docs: dict[str, ParsedDocument]) -> None:
    homework = docs["homework_txt"]
    assert homework.meta["encoding"] == "utf-8"
    assert homework.blocks[0].text == "Homework policy \u2013 Year 5"
    assert "- Homework is set on Monday and due on Friday." in _texts(homework)
    assert homework.title is None and homework.blocks[0].heading == ""

    lunch = docs["lunch_utf16_txt"]
    assert lunch.meta["encoding"] == "utf-16-le"
    assert "Two adults supervise the playground from 12:15 to 13:00 every day." in lunch.text
    assert "\r" not in lunch.text

    cafe = docs["cafe_cp1252_txt"]
    assert cafe.meta["encoding"] == "cp1252"
    assert "caf\u00e9 opens at 7:45 \u2013 pupils\u2019 places cost \u00a32" in cafe.text
    assert "\u201cQuiet zone\u201d tables are for reading\u2026" in cafe.text


def test_csv_and_rtf(docs: dict[str, ParsedDocument]) -> None:
    assert "Amara | Kingfishers | Turquoise" in _texts(docs["groups_csv"])
    rtf = docs["substitute_rtf"]
    assert rtf.meta["format"] == "rtf"
    assert "the day\u2019s lesson plans in the red folder" in rtf.text
    assert "fonttbl" not in rtf.text and "Arial" not in rtf.text


# --------------------------------------------------------------------------------------------
# read_text_file


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (codecs.BOM_UTF8 + "Caf\u00e9".encode(), "utf-8-sig"),
        ("Caf\u00e9".encode(), "utf-8"),
        (codecs.BOM_UTF16_LE + "Caf\u00e9".encode("utf-16-le"), "utf-16-le"),
        (codecs.BOM_UTF16_BE + "Caf\u00e9".encode("utf-16-be"), "utf-16-be"),
        (codecs.BOM_UTF32_LE + "Caf\u00e9".encode("utf-32-le"), "utf-32-le"),
        (codecs.BOM_UTF32_BE + "Caf\u00e9".encode("utf-32-be"), "utf-32-be"),
    ],
)
def test_read_text_file_boms(data: bytes, encoding: str) -> None:
    assert read_text_file(data) == ("Caf\u00e9", encoding)


def test_read_text_file_legacy_and_repaired() -> None:
    legacy = "The pupils\u2019 \u201creading corner\u201d \u2013 na\u00efve but charming\u2026"
    text, encoding = read_text_file((legacy + "\n").encode("cp1252") * 3)
    assert encoding == "cp1252" and text.startswith(legacy)
    # valid UTF-8 with one stray legacy byte stays UTF-8
    mostly = ("na\u00efve caf\u00e9 r\u00e9sum\u00e9 " * 10).encode() + b"\x96 end"
    text, encoding = read_text_file(mostly)
    assert encoding == "utf-8 (repaired)" and text.startswith("na\u00efve caf\u00e9")


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        (
            "Die Sch\u00fcler lesen B\u00fccher. Gr\u00f6\u00dfe und Ma\u00df \u2014 \u00fcberall.",
            "cp1252",
        ),
        (
            "Za\u017c\u00f3\u0142\u0107 g\u0119\u015bl\u0105 ja\u017a\u0144. Uczniowie czytaj\u0105 "
            "ksi\u0105\u017cki w bibliotece szkolnej ka\u017cdego dnia.",
            "cp1250",
        ),
        (
            "\u041f\u0440\u0438\u0432\u0435\u0442, \u043a\u0430\u043a \u0434\u0435\u043b\u0430? "
            "\u0423\u0447\u0435\u043d\u0438\u043a\u0438 \u0447\u0438\u0442\u0430\u044e\u0442.",
            "cp1251",
        ),
    ],
    ids=["german", "polish", "russian"],
)
def test_read_text_file_legacy_code_pages(text: str, encoding: str) -> None:
    assert read_text_file(text.encode(encoding)) == (text, encoding)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)), "binary"),
        (b"\x00\x01\x02\x03" * 100, "binary"),
        (b"%PDF-1.4 pretending to be text", "binary"),
        (codecs.BOM_UTF8 + b"\xff\xfe\xfa", "undecodable"),
        (bytes([0x81, 0x8D, 0x8F, 0x90, 0x9D] * 200), "undecodable"),
    ],
    ids=["elf", "controls", "pdf", "bad-bom", "soup"],
)
def test_read_text_file_rejects(data: bytes, reason: str) -> None:
    with pytest.raises(ParseError) as info:
        read_text_file(data)
    assert info.value.reason == reason


# --------------------------------------------------------------------------------------------
# Hostile files and error reporting


def test_hostile_corpus(hostile: dict[str, tuple[Path, str | None]]) -> None:
    assert len(hostile) >= 30
    wrong = []
    for key, (path, expected) in hostile.items():
        try:
            doc = parse_file(path, max_bytes=HOSTILE_MAX_BYTES)
        except ParseError as exc:
            got: str | None = exc.reason
            message = str(exc)
            assert message == f"{exc.reason}: {exc.detail}" and "\n" not in message, key
            assert len(message) <= 320, key
        except BaseException as exc:  # anything else is a bug
            wrong.append(f"{key}: raised {type(exc).__name__}: {exc}")
            continue
        else:
            got = None
            assert doc.text.strip() and not _CONTROL.search(doc.text), key
            assert all(doc.text[b.start : b.end] == b.text for b in doc.blocks), key
        if got != expected:
            wrong.append(f"{key}: expected {expected}, got {got}")
    assert not wrong, "\n".join(wrong)


def test_markup_and_escape_sequences_are_neutralised(
    hostile: dict[str, tuple[Path, str | None]],
) -> None:
    path, _ = hostile["txt-markup-and-escapes"]
    doc = parse_file(path)
    assert "[bold red]Warning[/]" in doc.text and "[link=http://x]now[/link]" in doc.text
    assert "\x1b" not in doc.text and "\x07" not in doc.text and "\x08" not in doc.text
    assert "evil.example" not in doc.text  # the OSC 8 hyperlink target goes with its sequence
    assert "Colours red and a click here link." in doc.text
    assert "form feed." in doc.text


def test_deep_html_and_nul_bytes(hostile: dict[str, tuple[Path, str | None]]) -> None:
    assert parse_file(hostile["html-deep-nesting"][0]).text == "Deep text"
    nuls = parse_file(hostile["txt-few-nuls"][0])
    assert _texts(nuls) == ["Seating plan for Year 4.", "Put the quiet table by the window."]


def test_parse_error_message_and_pickle() -> None:
    exc = ParseError("encrypted", "the PDF is password-protected;\nsave an unprotected copy")
    assert str(exc) == "encrypted: the PDF is password-protected; save an unprotected copy"
    clone = pickle.loads(pickle.dumps(exc))
    assert (clone.reason, str(clone)) == (exc.reason, str(exc))
    with pytest.raises(ValueError):
        ParseError("bogus", "x")


def test_permission_denied_and_vanishing_are_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("Some notes.")
    real_open = Path.open

    def refuse(self: Path, *args: object, **kwargs: object) -> object:
        if self == path:
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "open", refuse)
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.reason == "unreadable"

    def vanish(self: Path, *args: object, **kwargs: object) -> object:
        raise FileNotFoundError(2, "No such file", str(self))

    monkeypatch.setattr(Path, "open", vanish)
    with pytest.raises(ParseError) as info:
        parse_file(path)
    assert info.value.reason == "vanished"


def test_huge_limits(tmp_path: Path) -> None:
    path = tmp_path / "big.md"
    path.write_bytes(b"# Big\n\n" + b"word " * 3000)
    with pytest.raises(ParseError) as info:
        parse_file(path, max_bytes=1000)
    assert info.value.reason == "huge" and "limit" in str(info.value)
    assert parse_file(path, max_bytes=100_000).title == "Big"


def test_zip_unpack_limit_follows_max_bytes(good: dict[str, Path]) -> None:
    data = good["parents_docx"].read_bytes()
    unpacked = sum(i.file_size for i in zipfile.ZipFile(io.BytesIO(data)).infolist())
    with pytest.raises(ParseError) as info:
        parse_bytes(data, ".docx", max_bytes=unpacked // 5)
    assert info.value.reason == "huge"


def test_mutated_files_never_raise_anything_else(good: dict[str, Path]) -> None:
    """Flip, cut and splice bytes of every good file: ParseError or a document, nothing else."""
    rng = random.Random(99)
    for key, path in good.items():
        original = path.read_bytes()
        for round_ in range(6):
            data = bytearray(original)
            if round_ % 3 == 0:
                for _ in range(rng.randint(1, 20)):
                    data[rng.randrange(len(data))] = rng.randrange(256)
            elif round_ % 3 == 1:
                del data[rng.randrange(len(data)) :]
            else:
                at = rng.randrange(len(data))
                data[at:at] = rng.randbytes(rng.randint(1, 200))
            try:
                doc = parse_bytes(bytes(data), path.suffix)
            except ParseError:
                continue
            except BaseException as exc:
                pytest.fail(f"{key} round {round_}: {type(exc).__name__}: {exc}")
            assert all(doc.text[b.start : b.end] == b.text for b in doc.blocks)
