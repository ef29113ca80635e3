#!/usr/bin/env python
"""Write this folder's BEIR-format set (corpus.jsonl, queries.jsonl, qrels/test.tsv).

Whole documents, where what a document is about lies in the whole rather than in any one
passage: 72 unit plans of one to two pages (600-900 words, five to seven passages each) with
uninformative titles ("Unit plan 17"), each combining four facets: a subject (8), a way of
teaching (5), a way of checking learning (4) and the pupils it is for (4), plus four
sections of everyday planning text (resources, timing, homework...) that every plan shares in
kind. Each facet's section is drawn from its own sentence pool, so passages of different plans
repeat one another closely; no two plans share more than two facets. Each plan has one query
that paraphrases its overall point, naming all four facets in other words ("Which plan has
seven-year-olds learning about parts of a whole in small teams, checked by a slip at the end
of the lesson?"): a passage matches one or two facets, only the whole plan matches all four.
Deterministic:

    .venv/bin/python scripts/data/beir-wholedoc/make.py
"""

from __future__ import annotations

import itertools
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
SEED = 18
N_DOCS = 72
SENTENCES_PER_SECTION = 5

# facet: (section heading, sentences, paraphrases for queries)
Facet = tuple[str, list[str], list[str]]

SUBJECTS: dict[str, Facet] = {
    "fractions": ("What we cover", [
        "Pupils fold paper strips into halves, quarters and eighths and label each part with its fraction.",
        "We compare fractions with the same denominator first, then use a fraction wall to compare unit fractions.",
        "Equivalent fractions come next: two sixths and one third cover the same length of the strip.",
        "Children find a fraction of a quantity, such as three quarters of twelve counters.",
        "The numerator counts the parts we have and the denominator says how many equal parts make the whole.",
        "By the end pupils add and subtract fractions with the same denominator and place them on a number line.",
    ], ["parts of a whole", "halves, quarters and other pieces of a whole number"]),
    "photosynthesis": ("What we cover", [
        "Plants make their own food in the leaves, using light, water and carbon dioxide from the air.",
        "Chlorophyll in the chloroplasts absorbs light and gives leaves their green colour.",
        "The products are glucose, which the plant uses or stores as starch, and oxygen, which it releases.",
        "We test a leaf for starch with iodine after keeping one plant in the dark for two days.",
        "Pondweed gives off bubbles of oxygen faster when a lamp is moved closer to it.",
        "Pupils write the word equation and explain why almost every food chain begins with a green plant.",
    ], ["how green plants make sugar from sunlight", "how leaves turn light into food"]),
    "water-cycle": ("What we cover", [
        "The sun warms seas and lakes and water evaporates into the air as vapour.",
        "Rising vapour cools and condenses into tiny droplets that form clouds.",
        "When droplets join and grow heavy they fall as rain, snow or hail.",
        "Water collects in rivers, soaks into the ground and flows back to the sea.",
        "A bowl covered with cling film on a sunny windowsill shows evaporation and condensation in miniature.",
        "Pupils draw and label the whole loop and explain why the same water has been going round for millions of years.",
    ], ["how rain forms and returns to the sea", "the journey of water between sky, land and ocean"]),
    "persuasive-writing": ("What we cover", [
        "Pupils read adverts, speeches and letters to the editor and pick out how each tries to convince.",
        "We collect persuasive devices: rhetorical questions, emotive language, the rule of three and statistics.",
        "Each pupil chooses an issue, such as a longer lunch break, and plans arguments and counterarguments.",
        "Paragraphs open with a clear point, back it with evidence and end by explaining why it matters.",
        "We practise connectives such as furthermore, however and consequently to link the argument.",
        "The final piece is a letter to the head teacher arguing for a change in the school.",
    ], ["writing that tries to win the reader over", "arguing a case in a letter"]),
    "romans": ("What we cover", [
        "We begin with the invasion of Britain in AD 43 and why Rome wanted the island.",
        "Pupils learn how the legions were organised and what a soldier carried on the march.",
        "Boudicca's revolt is told from the point of view of the Iceni and of the Romans.",
        "Roads, towns, baths and Hadrian's Wall show what Roman rule changed in the landscape.",
        "We handle replica coins and pottery and ask what they tell us about everyday life in a villa.",
        "The unit ends by asking what the Romans left behind that we still use today.",
    ], ["the empire that built a wall across northern Britain", "legions, villas and life under Rome"]),
    "circuits": ("What we cover", [
        "Pupils build a simple circuit with a cell, wires and a bulb and find that it must be a complete loop.",
        "We add switches, buzzers and motors and draw each circuit with standard symbols.",
        "Adding more cells makes a bulb brighter; adding more bulbs in series makes each one dimmer.",
        "Children test which materials let current flow and sort them into conductors and insulators.",
        "We talk about mains electricity and why it must never be used in experiments.",
        "The final task is designing a working torch or a lit model house.",
    ], ["making bulbs light up with batteries and wires", "how current flows round a loop"]),
    "war-poetry": ("What we cover", [
        "We read poems written by soldiers in the trenches of the First World War.",
        "Pupils compare the early patriotic verse with later poems full of mud, gas and loss.",
        "Dulce et Decorum Est is read aloud and annotated for imagery, rhythm and its bitter ending.",
        "We look at how the poets' lives and letters shaped what they wrote.",
        "Pupils practise writing an analytical paragraph that quotes and explains a single image.",
        "The unit closes with each pupil comparing two poems in an essay on how conflict is presented.",
    ], ["verse from the trenches of 1914 to 1918", "poems about the Great War"]),
    "loops-coding": ("What we cover", [
        "Pupils program a sprite to draw a square, then notice the same two instructions repeat four times.",
        "We replace the repeated instructions with a repeat block and compare the two programs.",
        "Loops inside loops draw patterns of squares, stars and spirals.",
        "Children predict what a short program will do before running it, then debug the ones that go wrong.",
        "A loop that runs until a condition is met makes a game character move until it touches a wall.",
        "The final project is a short animation that uses at least two kinds of repetition.",
    ], ["making a program repeat instructions", "repetition in programming"]),
}

PEDAGOGIES: dict[str, Facet] = {
    "group-investigation": ("How the lessons run", [
        "Most lessons are spent in teams of four, each team working through an open question together.",
        "Every member has a role: leader, recorder, resource manager and reporter, and the roles rotate each week.",
        "Teams agree a plan before they start, and I visit each table to ask what they have found so far.",
        "At the end of each session one reporter from every team shares a finding with the class.",
        "Talk is the engine of these lessons, so we set ground rules for listening and disagreeing politely.",
        "Groups are mixed on purpose so that each one has a confident reader and a confident speaker.",
    ], ["in small teams", "by investigating together in groups"]),
    "direct-instruction": ("How the lessons run", [
        "Each lesson starts with a short review of the previous one, then I model the new step at the board.",
        "I think aloud through a worked example and the class copies it before trying a similar one.",
        "Practice moves from guided, with the whole class answering on whiteboards, to independent.",
        "New material comes in small steps, and we do not move on until almost everyone has it right.",
        "Questions go to many pupils quickly, so I can see who needs the step explained again.",
        "The lessons are tightly timed and follow the same structure every day, which the class finds calming.",
    ], ["through clear step-by-step explanation from the teacher", "with the teacher modelling each step first"]),
    "outdoor": ("How the lessons run", [
        "Much of the unit is taught outside, in the school grounds, the park next door and on one longer trip.",
        "Pupils take clipboards, cameras and measuring kit and collect their own observations.",
        "Lessons outdoors start with a safety briefing and clear boundaries the group must stay within.",
        "We return to the classroom to sort what we found and turn field notes into a written account.",
        "Bad weather is not a reason to cancel: we carry spare waterproofs and adapt the task.",
        "Working outside gives restless pupils room to move and brings the topic into the real world.",
    ], ["outside the classroom", "out of doors, on trips and in the grounds"]),
    "drama": ("How the lessons run", [
        "Pupils step into roles and act out scenes, freeze frames and short improvisations.",
        "In hot seating one pupil answers the class's questions in character.",
        "A conscience alley lets the class voice the thoughts of a character facing a hard choice.",
        "Each group rehearses a short scene and performs it, and the audience says what they learned from it.",
        "Props and costumes are kept simple: a hat or a scarf is enough to signal a role.",
        "Acting the ideas out makes abstract content memorable and gives quiet pupils a voice behind a character.",
    ], ["by acting it out in role", "through role play and performance"]),
    "flipped": ("How the lessons run", [
        "Pupils watch a short video at home before each lesson, so class time goes to practice and questions.",
        "Each video is under eight minutes and ends with three questions pupils answer online.",
        "I read the answers before the lesson and group pupils by what they found hard.",
        "Lessons begin with the questions that most pupils got wrong, then move to harder tasks.",
        "Pupils without a device at home watch the videos in the library at lunchtime.",
        "Because the explaining happens at home, I spend the lesson working alongside pupils rather than talking to the front.",
    ], ["with the explanations watched at home before class", "where videos are set as preparation before each lesson"]),
}

ASSESSMENTS: dict[str, Facet] = {
    "exit-tickets": ("Checking learning", [
        "In the last three minutes of every lesson each pupil answers one or two questions on a slip of paper.",
        "I sort the slips into three piles, got it, nearly and not yet, before I plan the next lesson.",
        "The next starter is built from the most common mistake on the slips.",
        "Slips are anonymous to the class but named for me, so I can follow up with individuals.",
        "Over the unit the slips show who needs help early rather than at the end.",
        "There is no formal test; the slips and my notes from them are the record of progress.",
    ], ["a quick card answered as they leave each lesson", "a short check at the end of every lesson"]),
    "portfolio": ("Checking learning", [
        "Each pupil keeps a folder of their work across the whole unit, drafts included.",
        "At three points pupils choose their best piece and write a short note on why they chose it.",
        "I assess the folder as a whole at the end, looking for growth rather than a single score.",
        "Parents see the folder at the consultation evening and can follow the progress over weeks.",
        "Pupils set themselves a target after each review and check it at the next one.",
        "The folder replaces a final test, so no single bad day decides the grade.",
    ], ["a collection of their work gathered over the weeks", "a folder of work judged as a whole"]),
    "written-test": ("Checking learning", [
        "The unit ends with a forty-minute written test taken in silence under exam conditions.",
        "The test has short recall questions first and one longer question at the end.",
        "Pupils revise with a knowledge organiser and a practice paper the week before.",
        "Marks are recorded in the tracker and compared with the end-of-unit results from last year.",
        "After marking, we go through the paper together and pupils correct their answers in green pen.",
        "Pupils who score below half resit a shorter version a fortnight later.",
    ], ["a final exam-style paper", "a formal end-of-unit test"]),
    "presentation": ("Checking learning", [
        "Each pupil gives a three-minute talk to the class at the end of the unit.",
        "Talks are marked against a rubric for content, clarity and answering questions.",
        "Pupils rehearse with a partner first and get feedback on pace and eye contact.",
        "The audience asks two questions after every talk, and answering them counts towards the mark.",
        "Pupils may use a poster or three slides, but no more, so the talk does not become reading aloud.",
        "Nervous speakers can present to a small group instead of the whole class.",
    ], ["a talk each pupil gives to the class", "speaking in front of their classmates at the end"]),
}

AUDIENCES: dict[str, Facet] = {
    "young": ("Who this is for", [
        "This plan is for a Year 2 class of six and seven-year-olds.",
        "Tasks are short, ten minutes at most, with a movement break between them.",
        "Instructions are given one at a time and shown with pictures as well as words.",
        "Many children are still learning to read fluently, so written tasks use few words.",
        "We sit on the carpet for the introduction and return there to share at the end.",
        "Teaching assistants support the children who find it hard to settle.",
    ], ["seven-year-olds", "very young children in infant school"]),
    "eal": ("Who this is for", [
        "The class includes many pupils who are new to English and still learning the language.",
        "Key words are pre-taught with pictures and translations in the pupils' home languages.",
        "Sentence frames on the table help pupils talk and write in full sentences.",
        "Pupils may first discuss ideas in their home language with a partner who shares it.",
        "I speak slowly, repeat key phrases and check understanding with gestures and objects.",
        "A bilingual glossary grows on the wall as the unit goes on.",
    ], ["children still learning English", "pupils who arrived recently speaking other languages"]),
    "dyslexia": ("Who this is for", [
        "Several pupils in this group have dyslexia or other specific learning difficulties.",
        "Handouts use a clear font, cream paper and short lines with plenty of space.",
        "Pupils can record answers by voice, with pictures or with a scribe instead of writing at length.",
        "Reading aloud is never sprung on anyone; pupils volunteer or are warned in advance.",
        "Coloured overlays and reading rulers are on every table.",
        "Spelling is not marked in content tasks, so the ideas get the credit.",
    ], ["pupils who struggle with reading and spelling", "learners with dyslexia"]),
    "exam-class": ("Who this is for", [
        "This plan is for a Year 10 class working towards their GCSE examinations next summer.",
        "Every lesson links back to the specification and to the kinds of question the exam asks.",
        "Pupils keep a revision log and record which topics they feel secure in.",
        "We practise timed answers and look at examiners' reports to see where marks are lost.",
        "The class is motivated by grades, so targets are written as the grade each pupil is aiming for.",
        "Intervention sessions after school are offered to pupils at risk of missing their target.",
    ], ["fifteen-year-olds preparing for their national exams", "a GCSE class"]),
}

FILLERS: dict[str, list[str]] = {
    "Resources": [
        "Resources are kept in the labelled trays at the back of the room and checked at the end of each week.",
        "Printed sheets are prepared on Friday for the following week.",
        "The shared drive holds every slide and worksheet, named by week and lesson.",
        "Anything borrowed from another department is signed out in the book by the door.",
        "Pupils know where to find spare pencils, rulers and glue without asking.",
        "Broken equipment is reported to the technician the same day.",
    ],
    "Timing": [
        "The unit runs for six weeks with three lessons a week.",
        "One lesson in the middle of the unit is left free to catch up or revisit.",
        "If a bank holiday falls in the unit, the last week is shortened rather than rushed.",
        "Each lesson is planned for fifty minutes, with five minutes of packing away.",
        "The timings are a guide and change if the class needs longer on something.",
        "The last lesson before a holiday is kept light.",
    ],
    "Homework": [
        "Homework is set once a week and should take about thirty minutes.",
        "Tasks practise what was taught that week rather than introducing anything new.",
        "Homework club runs on Tuesdays for pupils who find it hard to work at home.",
        "Late homework is followed up with a quiet conversation rather than a detention.",
        "Families are told the homework day at the start of the term.",
        "Homework is marked with a short comment and a tick for effort.",
    ],
    "Links with home": [
        "A letter at the start of the unit tells families what their child will be learning.",
        "Parents are invited to an afternoon at the end of the unit to see the work.",
        "Families who need the letter in another format can ask the office.",
        "The school newsletter carries a photo of the class at work.",
        "Questions from parents go to the class email and are answered within two days.",
        "Some families send in objects or stories that link to the topic.",
    ],
    "Notes from last year": [
        "Last year the unit felt rushed in the final fortnight, so the pace is gentler this time.",
        "Some of the worksheets were too wordy and have been shortened.",
        "Pupils enjoyed the practical lessons most and asked for more of them.",
        "Seating needed changing halfway through, so a plan is ready from the first lesson.",
        "The display at the end of the unit was popular with visitors.",
        "A few pupils missed lessons through illness and needed a catch-up pack, which now exists.",
    ],
    "Behaviour and routines": [
        "The usual class routines apply: line up quietly, coats on pegs, bags under tables.",
        "The attention signal is a raised hand and a countdown from five.",
        "Pupils who finish early pick a task from the extension box.",
        "Positive notes home are sent every Friday for effort and kindness.",
        "Any incidents are recorded on the school system the same day.",
        "Tidying up is timed, and the class tries to beat its record.",
    ],
}

QUERY_TEMPLATES = [
    "Which plan has {aud} learning about {subj} {ped}, checked by {ass}?",
    "I need the unit where {aud} study {subj} {ped}, with {ass} at the end.",
    "The plan on {subj} for {aud}, taught {ped} and assessed through {ass}.",
    "Find my planning for {aud}: {subj}, {ped}, and {ass} to see what they learned.",
]


def section(rng: random.Random, heading: str, sentences: list[str]) -> str:
    picked = rng.sample(sentences, SENTENCES_PER_SECTION)
    return f"{heading}\n\n" + " ".join(picked)


def plans(rng: random.Random) -> list[tuple[str, str, str, str]]:
    """N_DOCS facet combinations (subject, pedagogy, assessment, audience), no two sharing
    more than two facets."""
    every = list(itertools.product(SUBJECTS, PEDAGOGIES, ASSESSMENTS, AUDIENCES))
    rng.shuffle(every)
    chosen: list[tuple[str, str, str, str]] = []
    for combo in every:
        if all(sum(a == b for a, b in zip(combo, other, strict=True)) <= 2 for other in chosen):
            chosen.append(combo)
            if len(chosen) == N_DOCS:
                break
    return chosen


def main() -> None:
    rng = random.Random(SEED)
    combos = plans(rng)
    assert len(combos) == N_DOCS, len(combos)
    (HERE / "qrels").mkdir(exist_ok=True)
    with (HERE / "corpus.jsonl").open("w") as cf, (HERE / "queries.jsonl").open("w") as qf, \
            (HERE / "qrels" / "test.tsv").open("w") as rf:
        rf.write("query-id\tcorpus-id\tscore\n")
        for n, (subj, ped, ass, aud) in enumerate(combos, 1):
            parts = [section(rng, *AUDIENCES[aud][:2]), section(rng, *SUBJECTS[subj][:2]),
                     section(rng, *PEDAGOGIES[ped][:2]), section(rng, *ASSESSMENTS[ass][:2])]
            fillers = rng.sample(sorted(FILLERS), 4)
            parts += [section(rng, name, FILLERS[name]) for name in fillers]
            body = parts[:1] + rng.sample(parts[1:], len(parts) - 1)  # "who for" opens
            doc_id = f"plan-{n:03d}"
            cf.write(json.dumps({"_id": doc_id, "title": f"Unit plan {n}",
                                 "text": "\n\n".join(body),
                                 "metadata": {"facets": [subj, ped, ass, aud]}}) + "\n")
            template = QUERY_TEMPLATES[n % len(QUERY_TEMPLATES)]
            query = template.format(
                subj=rng.choice(SUBJECTS[subj][2]), ped=rng.choice(PEDAGOGIES[ped][2]),
                ass=rng.choice(ASSESSMENTS[ass][2]), aud=rng.choice(AUDIENCES[aud][2]))
            qf.write(json.dumps({"_id": f"q{n:03d}", "text": query,
                                 "metadata": {"kind": "whole-document"}}) + "\n")
            rf.write(f"q{n:03d}\t{doc_id}\t1\n")
    print(f"wrote {N_DOCS} plans and {N_DOCS} queries to {HERE}")


if __name__ == "__main__":
    main()
