"""Documents the benchmark scripts import (scripts never import tests/).

:func:`topic_handbook` writes a staff handbook, a few one-page notes per classroom topic, so
a question finds the passages of its own topic and a follow-up on another topic finds others.
"""

from __future__ import annotations

import random
from pathlib import Path

#: topic -> (a question about it, the words its passages use)
TOPICS: dict[str, tuple[str, list[str]]] = {
    "phonics": ("How do I help pupils who are falling behind in phonics?",
                ["phonics", "sounds", "blending", "decodable books", "phonemes", "segmenting"]),
    "fractions": ("How should I teach fractions to a class that finds them hard?",
                  ["fractions", "numerators", "denominators", "fraction walls",
                   "equivalent fractions", "bar models"]),
    "behaviour": ("What can I do about a pupil who keeps disrupting lessons?",
                  ["disruption", "behaviour plans", "calm warnings", "restorative talks",
                   "seating changes", "praise"]),
    "homework": ("How should I set homework for a mixed-ability class?",
                 ["homework", "deadlines", "homework clubs", "practice tasks",
                  "parent reminders", "marking"]),
    "anxiety": ("How can I support pupils who panic before exams?",
                ["exam anxiety", "breathing exercises", "practice papers", "reassurance",
                 "revision timetables", "worry notes"]),
    "group work": ("How do I stop one pupil doing all the work in a group?",
                   ["group roles", "free riders", "shared tasks", "peer assessment",
                    "group contracts", "individual accountability"]),
    "transitions": ("How do I keep transitions calm after lunch?",
                    ["transitions", "lining up", "countdown timers", "settling tasks",
                     "routines", "quiet signals"]),
    "vocabulary": ("How can I build vocabulary with English learners?",
                   ["vocabulary", "word walls", "sentence stems", "visuals",
                    "pre-teaching words", "oral rehearsal"]),
}

_SENTENCES = [
    "Teachers who use {a} find that {b} matter more than anything else.",
    "Start with {a}, then bring in {b} once the class is ready.",
    "A common mistake with {a} is to forget {b}; plan for them from the first week.",
    "In our school, {a} are reviewed every half term, together with {b}.",
    "When {a} are not enough, try {b} with a small group before the whole class.",
    "Keep records of {a} so that colleagues can see how {b} are working.",
    "Parents can support {a} at home if they understand {b}.",
    "Model {a} clearly, and give pupils time to practise {b} on their own.",
]


def topic_handbook(folder: Path, notes: int = 8, seed: int = 11) -> Path:
    """Write ``folder/<topic>-<i>.md``: ``notes`` one-page notes (~250 tokens) per topic in
    :data:`TOPICS` (separate files: a search takes at most a few hits from one document)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for topic, (_question, words) in TOPICS.items():
        for i in range(notes):
            sentences = []
            for _ in range(rng.randint(9, 13)):
                a, b = rng.sample(words, 2)
                sentences.append(rng.choice(_SENTENCES).format(a=a, b=b))
            body = " ".join(s[0].upper() + s[1:] for s in sentences)
            slug = topic.replace(" ", "-")
            (folder / f"{slug}-{i + 1}.md").write_text(
                f"# {topic.capitalize()}: note {i + 1}\n\n{body}\n", encoding="utf-8")
    return folder
