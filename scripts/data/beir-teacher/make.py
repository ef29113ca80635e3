#!/usr/bin/env python
"""Write this folder's BEIR-format set (corpus.jsonl, queries.jsonl, qrels/test.tsv).

Teacher knowledge, written for teachbot's retrieval evaluation: TOPICS are short notes on
distinct classroom topics, each with one or two questions phrased in other words; RECORDS are
templated school records (support plans, policies, rooms, clubs) that differ mostly in names
and codes, each with a question naming them, where keyword (BM25) search helps. Deterministic:

    .venv/bin/python scripts/data/beir-teacher/make.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (id, title, text, [queries])
TOPICS = [
    ("wait-time", "Wait time after questions", "After asking the class a question, pause for three to five seconds before taking answers. The silence gives slower processors a chance to think and raises the quality of replies.", ["How long should I pause before letting pupils answer?"]),
    ("cold-call", "Cold calling", "Choose who answers rather than taking hands up. Everyone must prepare an answer because anyone may be asked, and the routine feels fair when it is predictable and kind.", ["Should I pick students to respond instead of asking for volunteers?"]),
    ("exit-ticket", "Exit tickets", "In the last three minutes, each student answers one or two short questions on a slip. Sort the slips into got it, nearly and not yet to plan tomorrow's starter.", ["What quick check can I run in the final minutes of class to plan the next lesson?"]),
    ("mini-whiteboards", "Mini whiteboards", "Every pupil writes an answer and holds the board up on a count of three. You see the whole room's thinking at once and can reteach straight away.", ["How can I see every child's answer at the same time?"]),
    ("hinge-question", "Hinge questions", "A hinge question is a multiple-choice check at the midpoint of a lesson whose wrong options each reveal a specific misconception, so you can decide whether to move on.", ["How do I decide mid-lesson whether the class is ready to continue?"]),
    ("retrieval-practice", "Retrieval practice", "Short low-stakes quizzes on material from last week and last month strengthen memory more than rereading. Keep them ungraded and give answers immediately.", ["Why should I give frequent little quizzes on older topics?"]),
    ("spaced-practice", "Spacing", "Revisit topics after growing gaps of days and weeks instead of massing practice in one block. Forgetting a little between sessions makes the next recall stronger.", ["Is it better to spread revision out over time?"]),
    ("interleaving", "Interleaving problem types", "Mix different kinds of problems in one practice set so students must choose the method, not just repeat it. It feels harder but improves transfer on tests.", ["Should homework sets mix several kinds of maths problems?"]),
    ("worked-examples", "Worked examples", "Show a fully solved problem step by step, then a partly solved one, then let learners work alone. Fading the support reduces overload for novices.", ["How do I gradually remove support when teaching a new method?"]),
    ("dual-coding", "Dual coding", "Pair words with simple diagrams, timelines or flow charts. Two channels of information help students build and recall a mental model.", ["Does combining pictures with explanations help memory?"]),
    ("think-pair-share", "Think-pair-share", "Give a minute of silent thinking, then pairs compare ideas, then a few pairs report to the class. Quiet students rehearse before speaking to everyone.", ["How can shy pupils get ready before speaking in front of the whole group?"]),
    ("jigsaw", "Jigsaw groups", "Each member of a home group becomes the expert on one part of a text, meets other experts on the same part, then returns to teach the home group.", ["What is the cooperative learning method where each student teaches a piece to their team?"]),
    ("seating-plan", "Seating plans", "Plan seats before the first lesson, separating friends who distract each other and placing students who need support near the front and close to the door for quick exits.", ["Where should I put students who chat too much with their friends?"]),
    ("entry-routine", "Entry routine", "Meet students at the door, greet each by name and have a short task on the board so they start work within a minute of sitting down.", ["How do I get the class working as soon as they arrive?"]),
    ("attention-signal", "Attention signal", "Use one consistent signal, such as a raised hand or a chime, and wait for full silence before speaking. Practise it in the first week until it takes under five seconds.", ["What is a good way to get quiet quickly in a noisy room?"]),
    ("transitions", "Smooth transitions", "Give a one-minute warning, use a countdown and tell students exactly what to bring and where to go. Time the changeover and celebrate when the class beats its record.", ["How can changes between activities waste less time?"]),
    ("low-level-disruption", "Low-level disruption", "Respond to tapping, calling out and chatting with the least intrusive move first: a look, moving closer, a quiet word, and only then a formal warning.", ["What should I do first when a child keeps making small distracting noises?"]),
    ("restorative", "Restorative conversations", "After an incident, talk privately about what happened, who was affected and what needs to happen to put things right, rather than only issuing a sanction.", ["How do I repair the relationship after a pupil misbehaves?"]),
    ("defiance", "Refusal to work", "When a student refuses a task, avoid a public standoff. Offer a limited choice, give take-up time and follow up calmly after the lesson.", ["What do I do when a teenager flatly says no to doing the work?"]),
    ("praise", "Specific praise", "Praise effort and strategy precisely, for example naming the method a pupil used, rather than saying clever. Private praise works better for older students.", ["How should I compliment students so it actually motivates them?"]),
    ("growth-mindset", "Language for struggle", "Add the word yet to I can't do it, and treat mistakes as information. Model your own errors and how you fix them.", ["How can I help kids see mistakes as part of learning?"]),
    ("feedback-marking", "Whole-class feedback", "Read a set of books, note common errors and strong examples, then give one sheet of feedback to the whole class instead of writing comments in every book.", ["Is there a faster alternative to writing comments in each exercise book?"]),
    ("self-assessment", "Self and peer assessment", "Give students a short checklist of success criteria and a model answer, and ask them to mark their own or a partner's work before you see it.", ["How can pupils evaluate their own work against clear criteria?"]),
    ("success-criteria", "Success criteria", "Break the learning goal into three or four observable steps the pupils can check, written in their own language, and refer to them during the lesson.", ["How do I make it clear to the class what good work looks like?"]),
    ("differentiation", "Differentiation without three worksheets", "Use one task with a low floor and high ceiling, plus scaffolds such as word banks or partly completed examples, rather than separate sheets for each group.", ["How can one activity suit pupils of very different abilities?"]),
    ("stretch-able", "Stretching the most able", "Offer deeper questions, not more of the same: ask high attainers to explain, generalise, find counterexamples or set questions for others.", ["What can I give gifted learners who finish early?"]),
    ("phonics", "Systematic synthetic phonics", "Teach letter sounds in a fixed sequence, blend them to read words and segment them to spell. Daily short sessions with decodable books work best for beginning readers.", ["How should young children be taught to sound out words?"]),
    ("fluency-reading", "Reading fluency", "Repeated reading of the same passage, echo reading and paired reading build speed, accuracy and expression. Track words correct per minute every few weeks.", ["How do I get a slow reader to read aloud more smoothly?"]),
    ("vocabulary", "Teaching tier 2 vocabulary", "Pick useful academic words from the text, give a child-friendly definition, examples and non-examples, and get students to use each word several times that week.", ["Which words should I pre-teach and how do I make them stick?"]),
    ("reading-comprehension", "Reciprocal reading", "In small groups students take the roles of predictor, questioner, clarifier and summariser while reading a text together.", ["What group technique helps children understand what they read?"]),
    ("writing-modelling", "Modelled writing", "Write in front of the class, thinking aloud about word choices and sentence structure, then compose a second piece together before students write alone.", ["How do I show pupils the thinking behind good writing?"]),
    ("handwriting", "Handwriting practice", "Teach letter formation in families, check pencil grip and posture, and keep practice short and frequent. Some pupils benefit from sloped boards or pencil grips.", ["A child's letters are badly formed; what helps?"]),
    ("spelling", "Spelling patterns", "Teach spelling through patterns and morphology, such as prefixes and suffixes, rather than weekly lists of unrelated words tested on Friday.", ["Are weekly spelling tests of random words effective?"]),
    ("number-fluency", "Number fact fluency", "Short daily practice of number bonds and times tables, using games and timed challenges pupils can beat, frees working memory for problem solving.", ["How can my class recall multiplication facts more quickly?"]),
    ("manipulatives", "Concrete, pictorial, abstract", "Introduce maths ideas with objects such as counters or base-ten blocks, then drawings, then symbols, so that the notation has meaning.", ["Should I use physical objects before written sums in maths?"]),
    ("maths-talk", "Maths talk", "Use sentence stems such as I agree because and I noticed that, and ask pupils to explain their reasoning, not just state the answer.", ["How do I get children to explain their thinking in maths lessons?"]),
    ("science-practical", "Safe practical work", "Run a risk assessment before practicals, demonstrate the method, check goggles are on and give each group clear roles such as recorder and equipment manager.", ["What should I do before letting a class do an experiment?"]),
    ("misconceptions", "Addressing misconceptions", "Find out what students already believe with a short probe, then present evidence that conflicts with the wrong idea and discuss it openly.", ["How do I correct wrong ideas pupils bring into a topic?"]),
    ("homework", "Homework that helps", "Set short homework that practises what was taught, give feedback on it, and avoid tasks that need resources or help some families cannot give.", ["What kind of take-home tasks are actually useful?"]),
    ("parent-meeting", "Parent meetings", "Start with something positive, share specific evidence, listen to the family's view and agree one or two actions with a date to review.", ["How should I run a conference with a child's carers?"]),
    ("difficult-parent", "An angry parent", "Stay calm, listen without interrupting, acknowledge the concern, avoid blaming colleagues and offer a follow-up meeting with a senior leader if needed.", ["What do I say when a mum shouts at me at the school gate?"]),
    ("report-writing", "Writing reports", "Keep report comments specific, honest and forward-looking: one strength, one next step and how families can help at home.", ["What should end-of-year comments to families contain?"]),
    ("iep", "Individual education plans", "An individual education plan lists a pupil's needs, targets, the support in place and how progress will be reviewed each term with the family.", ["What goes into a support plan for a child with special needs?"]),
    ("dyslexia", "Supporting dyslexic pupils", "Use cream or pastel paper, clear fonts, reduce copying from the board, give instructions in small steps and allow alternative ways of recording.", ["How can I help a student who struggles with reading and spelling because of a learning difference?"]),
    ("adhd", "Supporting attention difficulties", "Seat the pupil away from distractions, break tasks into chunks, build in movement breaks and use a visual checklist.", ["A boy cannot sit still or focus for long; what adjustments help?"]),
    ("autism", "Supporting autistic pupils", "Warn about changes to routine in advance, use visual timetables, reduce sensory overload and give clear literal instructions.", ["How do I prepare a student on the spectrum for a change of plan?"]),
    ("eal", "English as an additional language", "Pair new arrivals with a buddy, use visuals and gestures, allow use of the home language for thinking and pre-teach key vocabulary.", ["How do I help a child who has just arrived and speaks little English?"]),
    ("anxiety", "Anxious pupils", "Offer a predictable routine, a quiet place to calm down and a trusted adult to check in with; break worrying tasks into small steps.", ["A pupil panics before tests; how can I support them?"]),
    ("bullying", "Responding to bullying", "Take every report seriously, record it, speak to all students involved separately, inform families and follow the anti-bullying policy.", ["What steps should I follow when a child says they are being picked on?"]),
    ("online-safety", "Online safety", "Teach pupils to keep personal information private, to think before sharing images and to tell a trusted adult about anything upsetting online.", ["What should children learn about staying safe on the internet?"]),
    ("safeguarding", "Safeguarding disclosures", "If a child discloses abuse, listen, do not promise secrecy, do not ask leading questions, write down their words and tell the designated safeguarding lead the same day.", ["A pupil has told me something worrying about home; what must I do?"]),
    ("attendance", "Improving attendance", "Call home on the first day of absence, celebrate improvements, and meet families early when patterns of missed days appear.", ["How can a school get children to miss fewer days?"]),
    ("lateness", "Punctuality", "Record late arrivals, speak to the student privately about barriers, and agree a plan with the family before applying sanctions.", ["A student keeps turning up after the bell; what should I do?"]),
    ("mobile-phones", "Mobile phones in class", "Phones stay switched off and in bags during lessons; a phone seen in use is confiscated and returned at the end of the day.", ["What is the rule when a pupil uses a smartphone in a lesson?"]),
    ("cover-lesson", "Leaving cover work", "Leave a seating plan, the register, clear self-explanatory tasks with answers and the name of a colleague who can help nearby.", ["What should I prepare if I am going to be off sick?"]),
    ("teaching-assistant", "Working with teaching assistants", "Share the plan before the lesson, agree which pupils the assistant supports and how, and ask them to prompt independence rather than do the work.", ["How do I make the best use of the extra adult in my classroom?"]),
    ("workload", "Managing workload", "Batch similar tasks, reuse good resources, use whole-class feedback and set a time to stop working each evening.", ["I am exhausted by marking and planning; how do I cut my hours?"]),
    ("wellbeing-staff", "Teacher wellbeing", "Protect time for rest, talk to a mentor when overwhelmed and remember that no lesson has to be perfect to be good.", ["How can new teachers avoid burning out?"]),
    ("ect-observation", "Being observed", "Treat observations as coaching: ask for one focus area in advance, reflect afterwards and agree one action step to practise.", ["How should I prepare for a colleague watching my lesson?"]),
    ("questioning-bloom", "Higher-order questions", "Move beyond recall with questions that ask students to compare, justify, evaluate and create, using prompts such as what would happen if.", ["How do I ask questions that make students think harder?"]),
    ("group-work", "Making group work work", "Keep groups small, give each member a role and a product to create, and hold individuals accountable for part of the outcome.", ["How do I stop one student doing all the work in a team task?"]),
    ("oracy", "Oracy and discussion", "Teach discussion rules explicitly, such as building on what someone said and challenging ideas politely, and give talk roles like summariser.", ["How can I improve the quality of spoken discussion in class?"]),
    ("reading-for-pleasure", "Reading for pleasure", "Read aloud to the class daily, let pupils choose books, talk about what you are reading and make the library a regular visit.", ["How do I get reluctant kids to enjoy books?"]),
    ("field-trip", "Planning a school trip", "Complete the risk assessment, get consent forms and medical details, check staff ratios and share an itinerary with families before the visit.", ["What do I need to organise before taking children on an outing?"]),
    ("first-day", "The first day with a new class", "Teach routines explicitly, learn names quickly, set out expectations with reasons and do an engaging task so the class leaves curious.", ["How should I spend the very first lesson of the school year?"]),
    ("end-of-term", "The last week of term", "Keep routines and purposeful learning going until the end; excitement rises, so structure prevents behaviour problems.", ["How do I keep pupils calm and working just before the holidays?"]),
    ("wet-play", "Wet breaks", "Have a box of quiet indoor games, appoint monitors and agree rules for indoor breaks so the afternoon does not start unsettled.", ["What should children do at break when it is raining?"]),
    ("calm-corner", "A calm corner", "A small area with cushions, a timer and feeling cards lets a dysregulated pupil calm down for a few minutes before rejoining the lesson.", ["Where can an upset child go to settle down inside the classroom?"]),
    ("zones", "Naming emotions", "Teach young children words for feelings with colours or a feelings chart, and check in each morning so they can say how they feel.", ["How can little ones learn to describe how they are feeling?"]),
    ("transition-secondary", "Moving up to secondary school", "Arrange visits, share information about each pupil with the new school and give anxious children extra sessions with a key adult.", ["How can we prepare eleven-year-olds for their next school?"]),
    ("assessment-data", "Using assessment data", "Look at question-level analysis rather than overall scores to find which topics need reteaching and which pupils need intervention.", ["How should I act on the results of a class test?"]),
    ("intervention", "Small-group interventions", "Keep interventions short, structured and linked to class teaching, with a clear entry test and exit test to check impact.", ["How do I run catch-up sessions for pupils who are behind?"]),
    ("marking-codes", "Marking codes", "A small set of symbols, such as sp for spelling and a double line for a new paragraph, speeds up marking when students are taught what they mean.", ["Can I use abbreviations when correcting written work?"]),
    ("display", "Working walls", "Keep a display that changes with the unit: key vocabulary, a worked example and students' current work, so pupils use it while learning.", ["What should go on my classroom wall displays?"]),
    ("learning-objectives", "Sharing the lesson goal", "Tell students what they are learning and why it matters, in plain words, and return to it at the end to check progress.", ["Should I tell the class the aim of the lesson at the start?"]),
    ("plenary", "Ending a lesson well", "Use the last minutes to summarise the key idea, ask a question that checks understanding and link to the next lesson.", ["What is a good way to wrap up a lesson?"]),
    ("starter", "Do-now activities", "A short silent task on the board at the start of class reviews previous learning and gives you time to take the register.", ["What should pupils work on while I take attendance?"]),
    ("questioning-no-hands", "No opt out", "If a pupil says they don't know, come back to them after hearing another answer and ask them to repeat or use it, so not knowing is never the end.", ["What if a child answers I don't know to avoid participating?"]),
    ("detentions", "Detentions", "Give detentions calmly with the reason, hold them promptly, and use part of the time to talk about how to avoid a repeat.", ["How should after-school punishments be handled?"]),
    ("rewards", "Rewards", "Use rewards sparingly and unpredictably, tie them to effort and kindness, and avoid public charts that shame the same pupils every week.", ["Do sticker charts work for motivating the class?"]),
    ("inclusive-classroom", "Inclusive classroom", "Plan lessons so that most needs are met by default: clear routines, visuals, chunked instructions and choice in how to show learning.", ["How can I design lessons that work for every learner from the start?"]),
    ("gifted-maths", "Rich maths tasks", "Give open problems with several solutions, such as finding all the ways to make twenty, so every pupil can enter and the best can go further.", ["What are maths problems that everyone can start but no one finishes quickly?"]),
    ("history-sources", "Using historical sources", "Teach pupils to ask who made a source, when, why and for whom before deciding how far it can be trusted.", ["How do I teach students to judge whether old documents are reliable?"]),
    ("geography-fieldwork", "Fieldwork", "Plan simple local fieldwork: traffic counts, land-use maps or river measurements, with data collected in groups and compared back in class.", ["What outdoor data collection can a class do near school?"]),
    ("art-critique", "Gallery critique", "Pupils place their work around the room, walk round with sticky notes and leave one kind, specific and helpful comment on each.", ["How can students give each other feedback on artwork?"]),
    ("music-practice", "Deliberate practice in music", "Break a piece into short sections, practise the hardest bar slowly and build speed gradually with a metronome.", ["How should pupils practise a difficult song on an instrument?"]),
    ("pe-inclusion", "Inclusive PE", "Adapt equipment, space, task and people so every pupil can take part, for example using bigger balls or smaller courts.", ["How do I change games so pupils with disabilities can join in?"]),
    ("computing-pair", "Pair programming", "One pupil types as the driver while the other reviews as the navigator; they swap roles every few minutes.", ["How can two students share one computer productively when coding?"]),
    ("languages-immersion", "Target language use", "Use the foreign language for routine instructions with gestures and visuals so pupils hear it constantly in context.", ["Should I speak only French during French lessons?"]),
    ("exam-prep", "Exam preparation", "Teach exam technique with past questions and mark schemes, practise timing, and mix topics in revision so students can choose methods.", ["How should I get older students ready for their final exams?"]),
    ("revision-timetable", "Revision planning", "Help students plan short revision sessions across subjects, using self-testing and flashcards rather than highlighting notes.", ["What is the most effective way for teenagers to revise?"]),
    ("metacognition", "Metacognition", "Teach pupils to plan how they will tackle a task, monitor whether it is working and evaluate afterwards what they would change.", ["How can I teach children to think about their own learning?"]),
    ("classroom-layout", "Classroom layout", "Rows suit direct instruction and tests; groups of tables suit collaboration. Choose the layout for the activity and teach how to move furniture quickly.", ["Is it better to arrange desks in rows or clusters?"]),
    ("noise-level", "Managing noise", "Agree voice levels from silent to presenting, show the current level on the board and stop the class when it drifts.", ["How do I keep the volume down during pair work?"]),
    ("tech-distractions", "Laptops in lessons", "Set a clear purpose for device use, walk behind screens, and ask for lids down during explanation.", ["How can I stop students wandering off task on tablets and computers?"]),
    ("sen-review", "Reviewing support plans", "Hold termly reviews with the pupil, family and specialists to check targets, celebrate progress and update the support.", ["How often should special needs targets be checked with families?"]),
    ("new-arrival", "Welcoming a mid-year arrival", "Prepare a peer buddy, a named tray and a short tour, and check in daily during the first two weeks.", ["How do I welcome a student who joins the class halfway through the year?"]),
    ("lunch-supervision", "Lunchtime supervision", "Staff on duty move around the playground, watch for pupils alone and report incidents to the class teacher after lunch.", ["Who keeps an eye on children during the midday break?"]),
    ("fire-drill", "Fire evacuation", "On the alarm, leave in silence by the nearest exit, take the register at the assembly point and report missing pupils to the fire warden.", ["What is the procedure when the alarm goes off?"]),
    ("allergy", "Allergies and medication", "Keep a list of pupils with allergies and their care plans, know where auto-injectors are stored and check food used in lessons.", ["How do I keep a child with a severe nut allergy safe in class?"]),
]

FIRST = ["Jonah", "Amara", "Priya", "Mateo", "Chloe", "Kwame", "Sofia", "Liam", "Aisha", "Noah",
         "Mei", "Oscar", "Zara", "Ethan", "Freya", "Yusuf", "Isla", "Ravi", "Leah", "Tomasz"]
LAST = ["Okafor", "Lindqvist", "Haddad", "Nakamura", "Brennan", "Castellanos", "Petrov", "Adeyemi",
        "Fitzgerald", "Kowalczyk", "Moreau", "Sandoval", "Achterberg", "Quigley", "Van der Berg",
        "Oyelaran", "Whitcombe", "Delacroix", "Szabo", "Ferreira"]
NEEDS = ["extra time in tests", "a reader for written papers", "movement breaks every twenty minutes",
         "a copy of slides before the lesson", "a quiet room for assessments", "a laptop for writing",
         "a visual timetable", "coloured overlays", "a sloped writing board", "a trusted adult at lunch"]
POLICIES = [("HS", "health and safety", "report hazards to the site manager and keep corridors clear"),
            ("SG", "safeguarding", "pass concerns to the designated lead the same day"),
            ("AT", "attendance", "call home on the first morning of absence"),
            ("BH", "behaviour", "use the warning, reminder and consequence ladder"),
            ("TR", "educational visits", "submit the visit form three weeks before"),
            ("IT", "acceptable use of devices", "log out of shared computers at the end of lessons"),
            ("MD", "medicines", "store medicines in the locked cabinet in the office"),
            ("EX", "examinations", "keep phones out of the exam hall")]
ROOMS = ["art studio", "science lab", "music room", "library", "sports hall", "computer suite",
         "drama studio", "food technology room", "sensory room", "learning support base"]
CLUBS = ["chess", "robotics", "choir", "netball", "coding", "gardening", "debating", "film",
         "origami", "astronomy"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def records(rng: random.Random) -> list[tuple[str, str, str, list[str]]]:
    out = []
    people = rng.sample([(f, l) for f in FIRST for l in LAST], 40)
    for i, (f, l) in enumerate(people):
        need = NEEDS[i % len(NEEDS)]
        code = f"SP-{rng.randint(100, 999)}"
        out.append((f"plan-{i:02d}", f"Support plan {code}: {f} {l}",
                    f"Support plan {code} for {f} {l}, Year {rng.randint(3, 11)}. {f} needs "
                    f"{need}. The plan is reviewed each term with the family and the SENCO; "
                    f"all staff should read it before teaching the class.",
                    [f"What support does {f} {l} need?"] if i % 2 == 0 else
                    [f"What is in support plan {code}?"]))
    for i, (pre, name, rule) in enumerate(POLICIES):
        for v in range(3):
            code = f"{pre}-{rng.randint(100, 999)}"
            out.append((f"policy-{pre.lower()}-{v}", f"Policy {code} ({name})",
                        f"Policy {code} sets out the school's {name} procedures, version {v + 2}. "
                        f"Staff must {rule}. Questions about policy {code} go to the deputy head.",
                        [f"What does policy {code} require?"]))
    for i, room in enumerate(ROOMS):
        code = f"R{rng.randint(10, 99)}{rng.choice('ABC')}"
        out.append((f"room-{i}", f"Room {code}: {room}",
                    f"Room {code} is the {room}. Book room {code} through the office at least "
                    f"two days ahead; leave it tidy and report damage.",
                    [f"How do I book room {code}?"]))
    for i, club in enumerate(CLUBS):
        f, l = rng.choice(FIRST), rng.choice(LAST)
        day = DAYS[i % 5]
        out.append((f"club-{i}", f"{club.capitalize()} club",
                    f"The {club} club meets on {day} after school in the hall, run by "
                    f"{f} {l}. Pupils sign up at the office; places are limited to twenty.",
                    [f"Who runs {club} club?"]))
    return out


def main() -> None:
    rng = random.Random(11)
    docs = [(i, t, x, q) for i, t, x, q in TOPICS] + records(rng)
    ids = [d[0] for d in docs]
    assert len(ids) == len(set(ids)), "duplicate ids"
    (HERE / "qrels").mkdir(exist_ok=True)
    with (HERE / "corpus.jsonl").open("w") as fh:
        for i, t, x, _q in docs:
            fh.write(json.dumps({"_id": i, "title": t, "text": x}) + "\n")
    n = 0
    with (HERE / "queries.jsonl").open("w") as qf, (HERE / "qrels" / "test.tsv").open("w") as rf:
        rf.write("query-id\tcorpus-id\tscore\n")
        for i, _t, _x, qs in docs:
            for q in qs:
                n += 1
                kind = "keyword" if i.startswith(("plan-", "policy-", "room-", "club-")) \
                    else "topic"
                qf.write(json.dumps({"_id": f"q{n:03d}", "text": q,
                                     "metadata": {"kind": kind}}) + "\n")
                rf.write(f"q{n:03d}\t{i}\t1\n")
    print(f"{len(docs)} documents, {n} queries")


if __name__ == "__main__":
    main()
