#!/usr/bin/env python
"""PDF text extraction: pypdf (what the parser uses) against pypdfium2, for speed and for the
quality of the extracted text, on PDFs made here with known text.

Four PDFs are written (Helvetica text placed with absolute positions, as word processors
do): ``prose`` (running text with headings and bullets), ``tables`` (ruled tables, cells
written row by row), ``columns`` (two columns, written column by column) and a ``--pages``
page handbook mixing all three. Each library extracts every page's text (pypdf:
``PdfReader(...).pages[i].extract_text()`` as ``parsers._parse_pdf`` calls it; pypdfium2:
``PdfDocument(...)[i].get_textpage().get_text_bounded()``) from the same bytes; runs
alternate which library goes first and the median time is reported.

Quality, against the text each page was made from (words: lower-cased runs of letters and
digits): ``word_recall`` (share of the page's words found, as a multiset), ``extra_words``
(share of extracted words that are not on the page), ``order`` (difflib ratio of the two
word sequences: reading order) and ``lines_intact`` (share of the page's lines, or table
rows, found whole on one extracted line, words in order: nothing merged or split apart).

    .venv/bin/python scripts/bench_pdf.py --pages 300 --runs 3 --json

The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import difflib
import io
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench  # noqa: E402
from _bench import log, median, r  # noqa: E402

WORD = re.compile(r"[a-z0-9]+")
Page = tuple[list[tuple[float, float, float, str]], list[tuple[float, float, float, float]],
             list[str]]
"""(text items (x, y, size, text), ruled lines (x1, y1, x2, y2), truth lines in order)."""


# -- making PDFs ---------------------------------------------------------------------------

def _esc(text: str) -> bytes:
    return text.encode("latin-1", "replace").replace(b"\\", b"\\\\").replace(
        b"(", b"\\(").replace(b")", b"\\)")


def pdf_bytes(pages: list[Page], title: str) -> bytes:
    """A valid PDF: each page's items drawn in Helvetica at absolute positions."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
               b"/Encoding /WinAnsiEncoding >>")
    pages_id = len(objects) + 1
    add(b"")  # the page tree, filled in below
    kids = []
    for items, rules, _truth in pages:
        ops = []
        for x1, y1, x2, y2 in rules:
            ops.append(f"{x1:.1f} {y1:.1f} m {x2:.1f} {y2:.1f} l S".encode())
        for x, y, size, text in items:
            ops.append(b"BT /F1 %.1f Tf %.1f %.1f Td (" % (size, x, y) + _esc(text) + b") Tj ET")
        stream = b"\n".join(ops)
        content = add(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
        kids.append(add(b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 595 842] "
                        b"/Resources << /Font << /F1 %d 0 R >> >> /Contents %d 0 R >>"
                        % (pages_id, font, content)))
    objects[pages_id - 1] = (b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % k for k in kids)
                             + b"] /Count %d >>" % len(kids))
    catalog = add(b"<< /Type /Catalog /Pages %d 0 R >>" % pages_id)
    info = add(b"<< /Title (" + _esc(title) + b") >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % i + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R >>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, catalog, info, xref))
    return out.getvalue()


def _wrap(text: str, width: int) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def prose_page(rng: random.Random, n: int) -> Page:
    items, truth, y = [], [], 790.0
    heading = f"{n}. {rng.choice(_bench.GOALS).capitalize()}"
    items.append((50, y, 16, heading))
    truth.append(heading)
    y -= 28
    while y > 80:
        if rng.random() < 0.25:
            lines = []
            for s in _bench.teacher_sentences(3, seed=rng.randrange(10**6)):
                first, *rest = _wrap(s, 88)
                lines += [f"- {first}", *(f"  {x}" for x in rest)]
        else:
            lines = _wrap(" ".join(_bench.teacher_sentences(rng.randint(3, 6),
                                                            seed=rng.randrange(10**6))), 92)
        for line in lines:
            if y <= 80:
                break
            items.append((50, y, 11, line))
            truth.append(line)
            y -= 14
        y -= 10
    return items, [], truth


def table_page(rng: random.Random, n: int) -> Page:
    cols = [50, 150, 300, 420]
    items, rules, truth = [], [], []
    title = f"Table {n}: interventions by year group"
    items.append((50, 790, 14, title))
    truth.append(title)
    header = ["Year", "Strategy", "Goal", "Owner"]
    y = 760.0
    rows = [header] + [[rng.choice(_bench.GRADES), rng.choice(_bench.STRATEGIES),
                        " ".join(rng.choice(_bench.GOALS).split()[:2]), rng.choice(_bench.NAMES)]
                       for _ in range(40)]
    for row in rows:
        for x, cell in zip(cols, row, strict=True):
            items.append((x + 3, y - 11, 9.5, cell))
        rules.append((50, y, 545, y))
        truth.append(" ".join(row))
        y -= 16
    rules.append((50, y, 545, y))
    for x in [*cols, 545]:
        rules.append((x, 760, x, y))
    return items, rules, truth


def columns_page(rng: random.Random, n: int) -> Page:
    items, truth = [], []
    title = f"Newsletter {n}"
    items.append((50, 800, 16, title))
    truth.append(title)
    for x in (50, 310):  # written (and read) column by column
        y = 770.0
        text = " ".join(_bench.teacher_sentences(14, seed=rng.randrange(10**6)))
        for line in _wrap(text, 44):
            if y <= 70:
                break
            items.append((x, y, 10, line))
            truth.append(line)
            y -= 13
    return items, [], truth


KINDS = {"prose": prose_page, "tables": table_page, "columns": columns_page}


def make_pdfs(pages: int, per_kind: int, seed: int = 7) -> dict[str, tuple[bytes, list[Page]]]:
    rng = random.Random(seed)
    out = {}
    for kind, make in KINDS.items():
        made = [make(rng, i + 1) for i in range(per_kind)]
        out[kind] = (pdf_bytes(made, f"Bench {kind}"), made)
    mixed = [list(KINDS.values())[i % 3](rng, i + 1) for i in range(pages)]
    out[f"handbook{pages}"] = (pdf_bytes(mixed, "Bench handbook"), mixed)
    return out


# -- extracting ----------------------------------------------------------------------------

def extract_pypdf(data: bytes) -> list[str]:
    import logging

    from pypdf import PdfReader

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    reader = PdfReader(io.BytesIO(data), strict=False)
    return [page.extract_text() or "" for page in reader.pages]


def extract_pdfium(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(data)
    try:
        out = []
        for i in range(len(pdf)):
            page = pdf[i]
            textpage = page.get_textpage()
            out.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return out
    finally:
        pdf.close()


LIBRARIES = {"pypdf": extract_pypdf, "pypdfium2": extract_pdfium}


def quality(pages: list[Page], texts: list[str]) -> dict[str, float]:
    recall, extra, order, intact = [], [], [], []
    for (_items, _rules, truth), got in zip(pages, texts, strict=True):
        want_words = [w for line in truth for w in WORD.findall(line.lower())]
        got_words = WORD.findall(got.lower())
        common = sum((Counter(want_words) & Counter(got_words)).values())
        recall.append(common / max(len(want_words), 1))
        extra.append(1 - common / max(len(got_words), 1))
        order.append(difflib.SequenceMatcher(None, want_words, got_words, autojunk=False).ratio())
        got_lines = [" ".join(WORD.findall(line.lower())) for line in got.splitlines()]
        joined = "\n".join(got_lines)
        whole = 0
        for line in truth:
            words = " ".join(WORD.findall(line.lower()))
            whole += any(words in g for g in got_lines) if words else 1
        intact.append(whole / max(len(truth), 1))
        del joined
    return {"word_recall": r(sum(recall) / len(recall), 4),
            "extra_words": r(sum(extra) / len(extra), 4),
            "order": r(sum(order) / len(order), 4),
            "lines_intact": r(sum(intact) / len(intact), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pages", type=int, default=300, help="pages of the mixed handbook")
    ap.add_argument("--per-kind", type=int, default=20, help="pages of each single-kind PDF")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per library (alternating)")
    args, home = _bench.parse_args(ap, argv)
    pdfs = make_pdfs(args.pages, args.per_kind)
    for name, (data, _pages) in pdfs.items():
        (home / f"{name}.pdf").write_bytes(data)  # kept with --home, to look at
    log(f"wrote {', '.join(f'{n} ({len(p)} pages, {len(d) // 1024} KiB)' for n, (d, p) in pdfs.items())}")
    result: dict[str, object] = {"bench": "pdf", "runs": args.runs, "pdfs": {}}
    for name, (data, pages) in pdfs.items():
        times: dict[str, list[float]] = {lib: [] for lib in LIBRARIES}
        texts: dict[str, list[str]] = {}
        for run in range(args.runs):
            order = list(LIBRARIES) if run % 2 == 0 else list(reversed(LIBRARIES))
            for lib in order:
                t = time.perf_counter()
                texts[lib] = LIBRARIES[lib](data)
                times[lib].append(time.perf_counter() - t)
        entry: dict[str, object] = {"pages": len(pages)}
        for lib in LIBRARIES:
            s = median(times[lib])
            entry[lib] = {"seconds": r(s, 4), "pages_per_s": r(len(pages) / s, 1),
                          **quality(pages, texts[lib])}
        entry["speedup"] = r(median(times["pypdf"]) / median(times["pypdfium2"]), 2)
        result["pdfs"][name] = entry  # type: ignore[index]
        log(f"{name}: {entry}")
    handbook = result["pdfs"][f"handbook{args.pages}"]  # type: ignore[index]
    result["handbook_speedup"] = handbook["speedup"]
    result["machine"] = _bench.machine()
    _bench.emit(result, pretty=not args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
