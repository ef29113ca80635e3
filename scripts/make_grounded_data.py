#!/usr/bin/env python
"""Training and held-out data for the default model's main job: grounded answers.

Documents come from ``scripts/data/grounded/topics.yaml`` (short school documents the project
wrote, with slots filled here from a fixed seed). Every example is built exactly the way the
app builds a prompt: the system prompt from :class:`teachbot_tui.config.Settings`, and the
user message from :meth:`teachbot_tui.answers.Assistant.build_messages` (fenced, numbered
passages, then the question). The target answer

* states what the answering document says, in its own sentences and their order, each
  cited as ``[n]`` (:func:`passage_answer` says why not in new words);
* ignores the irrelevant passages, also another document's text in the answering passage
  (a quarter of training prompts);
* says so when no passage answers the question (and cites nothing);
* never follows an instruction written inside a passage (a hostile passage is either a note
  of its own or a sentence added to another document).

The answering passage's position and the number of passages (1-5, mostly 2-4) vary. Training
questions are mostly (``PARAPHRASED``) the topic's strongly paraphrased ones (``p``).

Splits: ``train.jsonl`` (chat records for ``teachbot-train prepare``) is made from the
``train`` topics and the training injections only; ``heldout.jsonl`` (prompt + what a right
answer must contain) and ``ask/`` (documents to import and paraphrased questions for
``teachbot ask``) from the ``heldout`` topics and injections, never trained on.
:func:`followup_sets` are held-out second questions of a conversation, on another document,
laid out as the app lays out a follow-up (``TRAIN_FOLLOWUPS`` mixes such records into
training; the shipped adapter has none).

    .venv/bin/python scripts/make_grounded_data.py --out /tmp/grounded [--train 720] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

TOPICS = ROOT / "scripts" / "data" / "grounded" / "topics.yaml"
SEED = 0

# Shared slot pools (invented names and places).
SURNAMES = [
    "Okonkwo", "Farrant", "Threlfall", "Abernathy", "Kowalczyk", "Nakamura", "Oyelaran",
    "Pemberton", "Quigley", "Rahimi", "Sorensen", "Tuckwell", "Umeadi", "Villeneuve",
    "Whitcombe", "Yardley", "Zielinski", "Brannigan", "Castellano", "Dunmore", "Fairbairn",
    "Gallacher", "Hadfield", "Iqbal", "Jessop", "Kavanagh", "Lindqvist", "Nwosu", "Ormerod",
    "Penhaligon", "Radcliffe", "Achterberg", "Blessington", "Coverdale", "Delahunty",
]
TITLES = ["Ms", "Mr", "Mrs", "Dr", "Miss"]
PLACE_A = ["Harwick", "Brindle", "Ashcombe", "Fellbeck", "Marlow", "Pennock", "Greystone",
           "Oakhurst", "Whinfell", "Corrick", "Lanthorn", "Sedgeley", "Thornby", "Cullerton"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
MONTHS = ["September", "October", "November", "January", "February", "March", "April", "May",
          "June", "July"]
COLOURS = ["teal", "maroon", "mustard yellow", "navy", "emerald green", "burgundy", "sky blue",
           "orange", "lilac", "charcoal grey"]
WORDS = ["Sunflower", "Blue Jay", "Copperleaf", "Harbour", "Quartz", "Meadowlark", "Juniper",
         "Tangram", "Foxglove", "Nimbus"]

NO_ANSWER_FORMS = [
    "None of these passages says {about}, so I can't answer that from your documents. It is "
    "worth asking the colleague who organises it.",
    "The passages don't cover {about}: they are about {titles}. I can't give you that from "
    "your documents, so please check with the school office.",
    "Your documents, as given here, don't say {about}. I'd rather not guess; the person who "
    "runs it will know.",
]
NOTE_TITLES = ["Parent forum post", "Newsletter draft", "Downloaded worksheet", "Shared notes",
               "Email from a supplier"]
NOTE_FILLERS = [
    "Thank you to everyone who helped at the summer fair.",
    "Please remember to label every water bottle and lunch box.",
    "The worksheet below covers column addition with exchanging.",
    "Our new reading corner is ready for the spring term.",
    "Minutes from the last meeting are attached for reference.",
]
EXTENSIONS = ["md", "md", "txt", "docx", "pdf"]
# Share of passage counts 1..5 (the app sends up to retrieval_k = 5); training prompts are
# kept shorter (CPU time), held-out ones have the app's full range.
PASSAGE_COUNTS = [1, 2, 2, 2, 3, 3, 3, 4, 5]
TRAIN_PASSAGE_COUNTS = [1, 2, 2, 2, 3, 3, 4]
# Share of training questions taken from a fact's paraphrases (``p``), where it has them.
PARAPHRASED = 0.7
# Share of training records that are a conversation's second question, on another document
# (build_followup). The shipped adapter has none: one trained with 15% gained little on
# follow-ups (held-out 0.83 against 0.79) and refused answerable first questions (docs/training.md).
TRAIN_FOLLOWUPS = 0.0
# Share of training prompts whose answering passage also holds another document's text.
TRAIN_MERGED = 0.25


@dataclass
class Doc:
    topic: dict[str, Any]
    values: dict[str, str]
    text: str
    path: str
    page: int | None

    @property
    def title(self) -> str:
        return str(self.topic["title"])


def load_topics(path: Path = TOPICS) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _time(rng: random.Random, hours: tuple[int, int], pm: bool) -> str:
    h = rng.randint(*hours)
    m = rng.choice(range(0, 60, 5))
    return f"{h - 12 if pm and h > 12 else h}:{m:02d}" + (" pm" if pm else " am")


def draw_values(topic: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """One value for each slot: the topic's own pools first, then the shared ones."""
    day, day2 = rng.sample(DAYS, 2)
    (s1, s2), (t1, t2) = rng.sample(SURNAMES, 2), (rng.choice(TITLES), rng.choice(TITLES))
    d1, d2 = rng.sample(range(2, 28), 2)
    m1 = rng.choice(MONTHS)
    values = {
        "time": _time(rng, (8, 10), pm=False), "pm_time": _time(rng, (13, 16), pm=True),
        "day": day, "day2": day2, "surname": s1, "surname2": s2, "title": t1, "title2": t2,
        "date": f"{d1} {m1}", "date2": f"{d2} {m1}", "month": rng.choice(MONTHS),
        "room": f"{rng.choice('ABCDEG')}{rng.randint(1, 4)}{rng.randint(0, 9)}",
        "place": rng.choice(PLACE_A), "colour": rng.choice(COLOURS), "word": rng.choice(WORDS),
        "n_small": str(rng.randint(2, 6)), "n_mid": str(rng.choice([10, 12, 15, 20, 25, 30, 40])),
        "money": f"£{rng.choice([3, 4, 6, 8, 12, 15, 18, 22, 35])}.{rng.choice(['00', '50'])}",
    }
    for slot, pool in (topic.get("slots") or {}).items():
        values[slot] = str(rng.choice(pool))
    return values


def fill(template: str, values: dict[str, str]) -> str:
    return " ".join(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], template).split())


def slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def make_doc(topic: dict[str, Any], rng: random.Random) -> Doc:
    values = draw_values(topic, rng)
    ext = rng.choice(EXTENSIONS)
    page = rng.randint(1, 12) if ext == "pdf" else None
    return Doc(topic, values, fill(topic["doc"], values), f"{slug(topic['title'])}.{ext}", page)


# A sentence ends at end punctuation (and a closing quote) before a space.
_SENTENCE_END = re.compile(r'(?<=[.!?])\s+|(?<=[.!?]["\'])\s+')


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE_END.split(text.strip()) if s]


def cited(sentence: str, n: int) -> str:
    """The sentence with `` [n]`` before its final punctuation."""
    m = re.search(r'[.!?]+["\']?$', sentence)
    if m is None:
        return f"{sentence} [{n}]."
    return f"{sentence[:m.start()]} [{n}]{sentence[m.start():]}"


def passage_answer(doc: Doc, n: int) -> str:
    """The target answer: what the document says, in its own sentences and their order, each
    cited; nothing from the other passages or from a hostile sentence.

    A 135M model copies reliably but rewords and selects poorly: an adapter trained to
    restate only the asked fact in new words chose the wrong sentence or invented a value far
    more often than the untuned model, and one trained to put the answering sentence first
    often left the fact out of what followed. Copying the answering document in order states
    the fact whenever the model picks the right passage."""
    return " ".join(cited(s, n) for s in sentences(doc.text))


def no_answer_text(about: str, titles: list[str], rng: random.Random) -> str:
    names = [t[:1].lower() + t[1:] for t in titles]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    return rng.choice(NO_ANSWER_FORMS).format(about=about, titles=f"the {joined}")


def keys_for(doc: Doc, fact: dict[str, Any]) -> list[str]:
    return [fill(k, doc.values) for k in fact["key"]]


# --- the app's own prompt --------------------------------------------------------------------


def app_messages(question: str, passages: list[tuple[str, int | None, str, str]]
                 ) -> list[dict[str, str]]:
    """System + user message exactly as :class:`Assistant` sends them for these passages
    (each ``(path, page, heading, text)``)."""
    from teachbot_tui.answers import Assistant, Source
    from teachbot_tui.config import Settings
    from teachbot_tui.engine.fake import FakeEngine

    sources = [Source(n=i, path=p, page=page, heading=h, snippet=t[:240], score=0.5,
                      chunk_id=i, text=t) for i, (p, page, h, t) in enumerate(passages, 1)]
    assistant = Assistant(FakeEngine(n_ctx=8192), None, Settings())
    messages, kept = assistant.build_messages(question, [], sources)
    assert len(kept) == len(sources), "every passage fits"
    return [dict(m) for m in messages]


# --- one example -----------------------------------------------------------------------------


@dataclass
class Example:
    messages: list[dict[str, str]]
    kind: str  # answer | none
    hostile: str  # "" | note | in-other | in-answer
    right: int | None  # the answering passage's number
    keys: list[str]
    marker: str
    topic: str
    question: str = ""
    passages: list[tuple[int, str]] | None = None  # (number, text) as sent

    def record(self, answer: str) -> dict[str, Any]:
        return {"messages": [*self.messages, {"role": "assistant", "content": answer}],
                "source": "grounded", "meta": {"category": self.category, "topic": self.topic}}

    @property
    def category(self) -> str:
        followup = sum(m["role"] == "user" for m in self.messages) > 1
        return (self.kind + (f"+hostile-{self.hostile}" if self.hostile else "")
                + ("+followup" if followup else ""))

    def heldout(self) -> dict[str, Any]:
        return {"messages": self.messages, "kind": self.kind, "hostile": self.hostile,
                "right": self.right, "keys": self.keys, "marker": self.marker,
                "topic": self.topic, "category": self.category, "question": self.question,
                "passages": [[n, t] for n, t in self.passages or []]}


def ask_about(doc: Doc, rng: random.Random, question_index: int | None = None
              ) -> tuple[dict[str, Any], str]:
    """A fact of the document's topic and a question about it: for held-out and tuning sets
    (``question_index``) the topic's plain questions; for training mostly (PARAPHRASED) one
    in other words, where there are some."""
    fact = rng.choice(doc.topic["facts"])
    qs = fact["q"]
    if question_index is not None:
        return fact, fill(qs[question_index % len(qs)], doc.values)
    paraphrased = fact.get("p") or []
    pool = paraphrased if paraphrased and rng.random() < PARAPHRASED else qs
    return fact, fill(rng.choice(pool), doc.values)


def build_example(rng: random.Random, topics: list[dict[str, Any]], injections: list[dict[str, Any]],
                  kind: str, hostile: str, question_index: int | None = None,
                  counts: list[int] = PASSAGE_COUNTS, merged: float = 0.0
                  ) -> tuple[Example, str]:
    """One prompt and its target answer. ``merged``: the share of answering passages that
    also hold another document's text (a longer chunk), of which the answer uses nothing."""
    n_passages = rng.choice(counts)
    if hostile and n_passages < 2:
        n_passages = 2
    asked = rng.choice(topics)
    others = rng.sample([t for t in topics if t["id"] != asked["id"]], n_passages)
    asked_doc = make_doc(asked, rng)
    fact, question = ask_about(asked_doc, rng, question_index)
    docs = [make_doc(t, rng) for t in others]
    right: int | None = None
    if kind == "answer":
        docs = docs[: n_passages - 1]
        at = 0 if rng.random() < 0.35 else rng.randrange(n_passages)
        docs.insert(at, asked_doc)
        right = at + 1
    else:
        docs = docs[:n_passages]
    # a chunk starts with the document's title line, as the library's chunker leaves it
    # (markdown and Word headings also become the passage's heading in its label)
    headed = [d.path.endswith((".md", ".docx")) for d in docs]
    texts = [f"{d.title}\n\n{d.text}" if h or rng.random() < 0.5 else d.text
             for d, h in zip(docs, headed, strict=True)]
    labels = [(d.path, d.page, d.title if h else "") for d, h in zip(docs, headed, strict=True)]
    if right is not None and merged and rng.random() < merged:
        spare = [t for t in topics if t is not asked and t not in others]
        extra = make_doc(rng.choice(spare), rng).text
        both = [asked_doc.text, extra] if rng.random() < 0.5 else [extra, asked_doc.text]
        texts[right - 1] = texts[right - 1].replace(asked_doc.text, " ".join(both))
    marker = ""
    if hostile:
        inj = rng.choice(injections)
        marker = str(inj["marker"])
        if hostile == "note":
            slot = rng.choice([i for i in range(len(docs)) if i + 1 != right])
            note = f"{rng.choice(NOTE_FILLERS)} {inj['text']}"
            title = rng.choice(NOTE_TITLES)
            labels[slot] = (f"{slug(title)}.txt", None, "")
            texts[slot] = note
        elif hostile == "in-other":
            slot = rng.choice([i for i in range(len(docs)) if i + 1 != right])
            texts[slot] = f"{texts[slot]} {inj['text']}"
        else:  # in the answering passage itself
            assert right is not None
            texts[right - 1] = f"{texts[right - 1]} {inj['text']}"
    passages = [(p, page, h, t) for (p, page, h), t in zip(labels, texts, strict=True)]
    messages = app_messages(question, passages)
    if kind == "answer":
        assert right is not None
        answer = passage_answer(asked_doc, right)
        keys = keys_for(asked_doc, fact)
    else:
        titles = [t["title"] for t in others[:n_passages]]
        if hostile == "note":
            titles = [t for i, t in enumerate(titles) if docs[i].text in texts[i]] or titles
        answer = no_answer_text(fill(fact["about"], asked_doc.values), titles, rng)
        keys = []
    ex = Example(messages, kind, hostile, right, keys, marker, asked["id"], question,
                 [(i, t) for i, (_, _, _, t) in enumerate(passages, 1)])
    return ex, answer


def _source(doc: Doc, chunk_id: int) -> Any:
    """The document as one retrieved passage (numbered by the prompt builder)."""
    from teachbot_tui.answers import Source

    headed = doc.path.endswith((".md", ".docx"))
    text = f"{doc.title}\n\n{doc.text}" if headed else doc.text
    return Source(n=chunk_id, path=doc.path, page=doc.page, heading=doc.title if headed else "",
                  snippet=text[:240], score=0.5, chunk_id=chunk_id, text=text)


def build_followup(rng: random.Random, topics: list[dict[str, Any]],
                   question_index: int | None = None) -> tuple[Example, str]:
    """A second question, on another document, in a conversation whose first question was
    answered from one passage, as :class:`Assistant` lays it out: either every passage the
    follow-up finds was sent already (named by number: "Passages [1], [2] and [3] from earlier
    in our conversation apply here too") or new passages come, numbered on. The target answer
    is the second one's (the loss covers only the last reply)."""
    from teachbot_tui.answers import Assistant
    from teachbot_tui.config import Settings
    from teachbot_tui.engine.fake import FakeEngine

    assistant = Assistant(FakeEngine(n_ctx=8192), None, Settings())
    n_first = rng.choice([2, 3, 3, 4])
    docs = [make_doc(t, rng) for t in rng.sample(topics, n_first + 2)]
    first = [_source(d, i) for i, d in enumerate(docs[:n_first], 1)]
    new = [_source(d, i) for i, d in enumerate(docs[n_first:], n_first + 1)]
    texts = {s.chunk_id: s.text for s in [*first, *new]}
    at = rng.randrange(n_first)
    _, q1 = ask_about(docs[at], rng, question_index)
    msgs, _ = assistant.build_messages(q1, [], first)
    a1 = passage_answer(docs[at], at + 1)
    history = [{"role": "user", "content": q1, "sent": msgs[-1]["content"],
                "passages": [s.record() for s in first]},
               {"role": "assistant", "content": a1, "sent": a1}]
    if rng.random() < 0.5:  # the answer is among the passages sent already
        j = rng.choice([i for i in range(n_first) if i != at])
        rest = [s for i, s in enumerate(first) if i != j]
        retrieved = [first[j], *rng.sample(rest, len(rest))]
    else:  # it comes in a new passage, maybe with another new one and some held ones
        j = n_first
        retrieved = [new[0], *rng.sample([*first, new[1]], rng.randint(1, n_first + 1))]
    fact, q2 = ask_about(docs[j], rng, question_index)
    messages, sources = assistant.build_messages(q2, history, retrieved)
    right = next(s.n for s in sources if s.chunk_id == j + 1)
    ex = Example([dict(m) for m in messages], "answer", "", right, keys_for(docs[j], fact), "",
                 docs[j].topic["id"], q2, [(s.n, texts[s.chunk_id]) for s in sources])
    return ex, passage_answer(docs[j], right)


# Mix of example kinds: (kind, hostile, weight).
TRAIN_MIX = [("answer", "", 62), ("answer", "note", 7), ("answer", "in-other", 7),
             ("answer", "in-answer", 7), ("none", "", 11), ("none", "note", 3),
             ("none", "in-other", 2)]
HELDOUT_MIX = [("answer", "", 28), ("answer", "note", 6), ("answer", "in-other", 5),
               ("answer", "in-answer", 5), ("none", "", 12), ("none", "note", 4)]


def generate(n_train: int, seed: int = SEED) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training chat records, held-out sets), reproducible from ``seed``."""
    data = load_topics()
    train_topics = [t for t in data["topics"] if t["split"] == "train"]
    held_topics = [t for t in data["topics"] if t["split"] == "heldout"]
    rng = random.Random(seed)
    kinds = [k for k, _, w in TRAIN_MIX for _ in range(w)]
    hostiles = [h for _, h, w in TRAIN_MIX for _ in range(w)]
    train, seen = [], set()
    while len(train) < n_train:
        i = rng.randrange(len(kinds))
        if TRAIN_FOLLOWUPS and rng.random() < TRAIN_FOLLOWUPS:
            ex, answer = build_followup(rng, train_topics)
        else:
            ex, answer = build_example(rng, train_topics, data["injections"]["train"],
                                       kinds[i], hostiles[i], counts=TRAIN_PASSAGE_COUNTS,
                                       merged=TRAIN_MERGED)
        key = "\n".join(m["content"] for m in ex.messages[1:])
        if key in seen:
            continue
        seen.add(key)
        train.append(ex.record(answer))
    held: list[dict[str, Any]] = []
    hrng = random.Random(seed + 1)
    for kind, hostile, count in HELDOUT_MIX:
        for j in range(count):
            ex, answer = build_example(hrng, held_topics, data["injections"]["heldout"],
                                       kind, hostile, question_index=j)
            held.append({**ex.heldout(), "reference": answer})
    return train, held


def followup_sets(seed: int = SEED, count: int = 24) -> list[dict[str, Any]]:
    """Held-out follow-ups (:func:`build_followup` on the ``heldout`` topics, plain
    questions): the second answer of a conversation that changes document."""
    held_topics = [t for t in load_topics()["topics"] if t["split"] == "heldout"]
    rng = random.Random(seed + 4)
    sets = []
    for j in range(count):
        ex, answer = build_followup(rng, held_topics, question_index=j)
        sets.append({**ex.heldout(), "reference": answer})
    return sets


def tuning_sets(seed: int = SEED) -> list[dict[str, Any]]:
    """Sets shaped like the held-out ones (same mix of kinds) but from the ``train`` topics and
    injections, from their own seed: for tuning the app's side (e.g. the written-in
    citations) without looking at the held-out sets."""
    data = load_topics()
    train_topics = [t for t in data["topics"] if t["split"] == "train"]
    rng = random.Random(seed + 3)
    sets: list[dict[str, Any]] = []
    for kind, hostile, count in HELDOUT_MIX:
        for j in range(count):
            ex, answer = build_example(rng, train_topics, data["injections"]["train"],
                                       kind, hostile, question_index=j)
            sets.append({**ex.heldout(), "reference": answer})
    return sets


def ask_set(seed: int = SEED) -> tuple[list[tuple[str, str]], list[dict[str, Any]]]:
    """Documents (file name, text) for a small library, and one paraphrased question per
    document with the fact its answer must state: the held-out topics' ``ask`` lines."""
    data = load_topics()
    rng = random.Random(seed + 2)
    files, questions = [], []
    for topic in [t for t in data["topics"] if t["split"] == "heldout" and t.get("ask")][:8]:
        doc = make_doc(topic, rng)
        name = f"{slug(topic['title'])}.md"
        files.append((name, f"# {topic['title']}\n\n{doc.text}\n"))
        fact = _ask_fact(topic)
        questions.append({"question": topic["ask"], "file": name, "keys": keys_for(doc, fact)})
    return files, questions


def _ask_fact(topic: dict[str, Any]) -> dict[str, Any]:
    """The fact the ``ask`` line asks about: the one whose questions share most words with it."""
    words = set(re.findall(r"[a-z]+", topic["ask"].lower()))

    def overlap(f: dict[str, Any]) -> int:
        text = " ".join(f["q"]) + " " + f["about"]
        return len(words & set(re.findall(r"[a-z]+", text.lower())))

    return max(topic["facts"], key=overlap)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="folder to write into")
    ap.add_argument("--train", type=int, default=720, help="training records (default 720)")
    ap.add_argument("--seed", type=int, default=SEED)
    args = ap.parse_args(argv)
    from teachbot_tui.training_format import write_jsonl

    train, held = generate(args.train, args.seed)
    out: Path = args.out
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout.jsonl", held)
    files, questions = ask_set(args.seed)
    (out / "ask" / "docs").mkdir(parents=True, exist_ok=True)
    for name, text in files:
        (out / "ask" / "docs" / name).write_text(text, encoding="utf-8")
    (out / "ask" / "questions.json").write_text(json.dumps(questions, indent=2) + "\n",
                                                encoding="utf-8")
    counts: dict[str, int] = {}
    for r in train:
        counts[r["meta"]["category"]] = counts.get(r["meta"]["category"], 0) + 1
    print(json.dumps({"train": len(train), "heldout": len(held), "ask": len(questions),
                      "train_categories": counts, "out": str(out)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
