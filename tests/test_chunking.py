from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

from teachbot_tui.library.chunking import (
    HEADROOM_TOKENS,
    MAX_CHARS_PER_TOKEN,
    Chunk,
    chunk_document,
    sentence_spans,
)
from teachbot_tui.library.formats import ParsedDocument, parse_bytes, parse_file
from teachbot_tui.testing.corpus import long_document_markdown, make_good_corpus

Count = Callable[[str], int]


@pytest.fixture(scope="module")
def count() -> Count:
    from teachbot_tui import defaults, offline

    offline.enforce()
    path = defaults.embedder_path()  # set-up installs it; a missing one fails loudly
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(path))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False))


@pytest.fixture(scope="module")
def long_doc() -> ParsedDocument:
    return parse_bytes(long_document_markdown(sections=30, paragraphs=6).encode(), ".md")


def check_chunks(
    doc: ParsedDocument, chunks: list[Chunk], count: Count, max_tokens: int, covers: bool = True
) -> None:
    """The invariants every chunking must keep."""
    budget = max_tokens - HEADROOM_TOKENS if max_tokens > 2 * HEADROOM_TOKENS else max_tokens
    assert chunks
    texts = [c.text for c in chunks]
    assert len(set(texts)) == len(texts), "two chunks with the same text"
    for chunk in chunks:
        assert chunk.text == doc.text[chunk.start : chunk.end]
        assert chunk.text.strip() == chunk.text and chunk.text
        assert count(chunk.text) <= budget
        assert len(chunk.text) <= MAX_CHARS_PER_TOKEN * budget
        first = next(b for b in reversed(doc.blocks) if b.start <= chunk.start)
        assert (chunk.page, chunk.heading) == (first.page, first.heading)
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)
    if covers:  # every character of every block is in some chunk
        covered = doc.blocks[0].start
        for chunk in chunks:
            assert not doc.text[covered : chunk.start].strip(), "text left out"
            covered = max(covered, chunk.end)
        assert covered == doc.blocks[-1].end


def test_good_corpus_chunks(tmp_path: Path, count: Count) -> None:
    for key, path in make_good_corpus(tmp_path).items():
        doc = parse_file(path)
        for max_tokens, overlap in ((256, 40), (48, 12)):
            chunks = chunk_document(doc, count, max_tokens=max_tokens, overlap_tokens=overlap)
            check_chunks(doc, chunks, count, max_tokens)
            assert all(c.heading for c in chunks) or key.endswith(("txt", "csv", "rtf")), key


def test_top_level_sections_start_chunks(tmp_path: Path, count: Count) -> None:
    doc = parse_file(make_good_corpus(tmp_path)["behaviour_md"])
    chunks = chunk_document(doc, count)
    # a "##" section opens a chunk once the chunk has substance; the short "Expectations"
    # section shares one, and the "###" steps stay with their "##" section
    assert [c.heading for c in chunks] == [
        "Behaviour policy",
        "Behaviour policy > Restorative conversation",
    ]
    assert chunks[1].text.startswith("Restorative conversation\n\nAfter any consequence")
    assert "Step 1: Quiet reminder" in chunks[0].text and "Step 2" in chunks[0].text
    assert chunks[0].end < chunks[1].start  # a new section: no overlap


def test_pdf_chunks_carry_page_numbers(tmp_path: Path, count: Count) -> None:
    doc = parse_file(make_good_corpus(tmp_path)["fluency_pdf"])
    chunks = chunk_document(doc, count, max_tokens=40, overlap_tokens=8)
    wcpm = next(c for c in chunks if "WCPM" in c.text)
    assert wcpm.page == 3 and wcpm.heading == "Measuring progress"
    assert {c.page for c in chunks} == {1, 2, 3}


def test_long_document(long_doc: ParsedDocument, count: Count) -> None:
    chunks = chunk_document(long_doc, count)
    check_chunks(long_doc, chunks, count, 256)
    sizes = [count(c.text) for c in chunks]
    assert sum(sizes) / len(sizes) > 120  # packed, not one block per chunk

    # a new section starts a new chunk: each "## Section k" heading opens one
    section_starts = {b.start for b in long_doc.blocks if b.is_heading and b.text != "Handbook"}
    chunk_starts = {c.start for c in chunks}
    assert len(section_starts - chunk_starts) <= 1  # Section 0 follows the "# Handbook" title

    # chunks that continue a section overlap the previous one, by whole sentences
    overlapping = whole_sentences = 0
    for before, after in zip(chunks, chunks[1:], strict=False):
        if after.start < before.end:
            overlapping += 1
            continued = next(b for b in reversed(long_doc.blocks) if b.start < before.end)
            assert after.heading == continued.heading
            shared = long_doc.text[after.start : before.end]
            assert shared.endswith(".") and long_doc.text[after.start - 1].isspace()
            assert count(shared) <= 40
            assert after.start > before.start
            whole_sentences += shared.startswith("Sentence ")
    assert overlapping >= len(chunks) // 3
    assert whole_sentences >= 0.8 * overlapping  # words only when no sentence fits

    # no chunk ends with a heading that belongs to the next chunk
    headings = {b.end for b in long_doc.blocks if b.is_heading}
    for chunk in chunks:
        assert chunk.end not in headings or all(
            b.is_heading for b in long_doc.blocks if chunk.start <= b.start < chunk.end
        )


def test_each_piece_of_text_is_counted_about_once(long_doc: ParsedDocument, count: Count) -> None:
    counted = 0

    def counting(text: str) -> int:
        nonlocal counted
        counted += len(text)
        return count(text)

    chunk_document(long_doc, counting)
    assert counted < 1.6 * len(long_doc.text)


def test_batch_counter_is_used(long_doc: ParsedDocument, count: Count) -> None:
    batches: list[int] = []

    def batch(texts: Sequence[str]) -> list[int]:
        batches.append(len(texts))
        return [count(t) for t in texts]

    chunks = chunk_document(long_doc, count, count_tokens_batch=batch)
    assert batches and batches[0] == len(long_doc.blocks)
    assert [c.text for c in chunks] == [c.text for c in chunk_document(long_doc, count)]


def _letters(n: int) -> str:
    """n letters without a space (and without repeats, so no two pieces are the same)."""
    rng = random.Random(n)
    return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(n))


def _doc(markdown: str) -> ParsedDocument:
    return parse_bytes(markdown.encode(), ".md")


def test_long_block_is_split_by_sentences_then_words_then_characters(count: Count) -> None:
    sentences = " ".join(f"Pupil number {i} reads the passage aloud twice." for i in range(120))
    no_stops = " ".join(f"word{i}" for i in range(2000))
    one_word = _letters(20_000)
    doc = _doc(f"# Long\n\n{sentences}\n\n{no_stops}\n\n{one_word}\n")
    chunks = chunk_document(doc, count, max_tokens=64, overlap_tokens=16)
    check_chunks(doc, chunks, count, 64)
    # sentence pieces end at a full stop; word pieces at a word boundary
    sentence_chunks = [c for c in chunks if "Pupil number" in c.text and "word" not in c.text]
    assert len(sentence_chunks) > 5 and all(c.text.endswith(".") for c in sentence_chunks)
    for c in chunks:
        if c.text.startswith("word") and c.end < doc.text.index(one_word):
            assert doc.text[c.end] in " \n"


def test_no_duplicate_or_blank_chunks(count: Count) -> None:
    repeated = "\n\n".join(f"## Rule\n\nBe kind to everyone. {'Always. ' * 3}" for _ in range(30))
    doc = _doc(repeated + "\n\n   \n\n")
    chunks = chunk_document(doc, count, max_tokens=32, overlap_tokens=8)
    check_chunks(doc, chunks, count, 32, covers=False)
    assert len(chunks) == 1


def test_non_additive_tokenizer_still_fits(long_doc: ParsedDocument) -> None:
    """A tokenizer whose count of joined text exceeds the sum of the parts (here: 1 token per
    3 characters, spaces included) is caught by the final check."""

    def thirds(text: str) -> int:
        return (len(text) + 2) // 3

    chunks = chunk_document(long_doc, thirds, max_tokens=100, overlap_tokens=20)
    check_chunks(long_doc, chunks, thirds, 100)


def test_empty_document_and_bad_arguments(count: Count) -> None:
    assert chunk_document(ParsedDocument("", [], None, None, {}), count) == []
    with pytest.raises(ValueError):
        chunk_document(_doc("text"), count, max_tokens=0)


def test_sentence_spans() -> None:
    text = 'He said "Stop!" Then e.g. the class left. Why? Because.\nNext line'
    spans = sentence_spans(text, 0, len(text))
    assert [text[s:e] for s, e in spans] == [
        'He said "Stop!"',
        "Then e.g. the class left.",
        "Why?",
        "Because.",
        "Next line",
    ]


def test_a_run_of_letters_the_tokenizer_calls_one_token_is_still_cut(count: Count) -> None:
    letters = _letters(300_000)
    doc = _doc("Intro sentence.\n\n" + letters)
    assert count(letters) <= 2  # WordPiece: one [UNK]
    chunks = chunk_document(doc, count)
    check_chunks(doc, chunks, count, 256)
    assert len(chunks) >= 300_000 // (MAX_CHARS_PER_TOKEN * 248)
