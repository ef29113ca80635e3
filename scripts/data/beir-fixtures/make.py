#!/usr/bin/env python
"""Write this folder's BEIR-format set from the test corpus (teachbot_tui/testing/corpus.py).

Each document of ``make_good_corpus`` (one per format) is parsed with teachbot's own parsers
and its text becomes a corpus entry (``_id`` = the corpus key); ``QUESTIONS`` (paraphrased
questions) are the queries, each relevant to its own document. The long generated handbook
(``long_document_markdown``) is added as a distractor with no queries. Deterministic:

    .venv/bin/python scripts/data/beir-fixtures/make.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
sys.path.insert(0, str(ROOT))

from teachbot_tui import offline  # noqa: E402

offline.enforce()

from teachbot_tui.library.formats import parse_file  # noqa: E402
from teachbot_tui.testing import corpus  # noqa: E402


def main() -> None:
    (HERE / "qrels").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        files = corpus.make_good_corpus(Path(tmp))
        docs = []
        for key, path in files.items():
            parsed = parse_file(path)
            docs.append({"_id": key, "title": parsed.title or path.stem, "text": parsed.text})
    docs.append({"_id": "handbook", "title": "Handbook",
                 "text": corpus.long_document_markdown(sections=12, paragraphs=3)})
    with (HERE / "corpus.jsonl").open("w") as fh:
        for d in docs:
            fh.write(json.dumps(d) + "\n")
    n = 0
    with (HERE / "queries.jsonl").open("w") as qf, (HERE / "qrels" / "test.tsv").open("w") as rf:
        rf.write("query-id\tcorpus-id\tscore\n")
        for key, questions in corpus.QUESTIONS.items():
            for q in questions:
                n += 1
                qf.write(json.dumps({"_id": f"q{n:02d}", "text": q}) + "\n")
                rf.write(f"q{n:02d}\t{key}\t1\n")
    print(f"{len(docs)} documents, {n} queries")


if __name__ == "__main__":
    main()
