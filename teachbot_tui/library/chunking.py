"""Cut a parsed document into embedding-sized chunks that follow its structure.

Whole blocks are packed in reading order while they fit the token budget; a heading starts a new
chunk once the current one has some substance; a block too long for one chunk is split by
sentences, a sentence too long by words (and a "word" too long by characters). A chunk that
continues the previous one's section starts with the last sentence or two of it (the overlap),
so every chunk's text is still one exact slice ``doc.text[start:end]``: a citation can highlight
it in the original.

Token counts come from the caller (the embedder's tokenizer, without special tokens). Each block
and sentence is counted once; each finished chunk is counted once more to check the budget holds
even for tokenizers whose counts do not simply add up.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from teachbot_tui.library.formats import Block, ParsedDocument
from teachbot_tui.text import sentence_spans, trim_span

# Room left for the [CLS]/[SEP]-style special tokens the embedder adds around a chunk.
HEADROOM_TOKENS = 8
# A heading starts a new chunk only once the current chunk holds this share of the budget.
SECTION_MIN_SHARE = 6
# Chunks whose token count is checked before the sums of unit counts are trusted.
ADDITIVITY_CHECKS = 16
# A chunk is also at most this many characters per budget token: a tokenizer may count a
# 300 KB run of letters as one unknown token, and nobody wants that as a citation.
MAX_CHARS_PER_TOKEN = 16

CountTokens = Callable[[str], int]
CountTokensBatch = Callable[[Sequence[str]], Sequence[int]]


@dataclass
class Chunk:
    text: str  # == doc.text[start:end]
    start: int
    end: int
    page: int | None  # page (or slide) of the block the chunk starts in
    heading: str  # heading path of that block


_WORD = re.compile(r"\S+")


class _Counter:
    """count_tokens, batched where the caller offers it, with a cache for short strings.

    Only sentences are looked up twice (overlaps), so only short strings are kept: caching
    every block of a 200 MB file would double its memory.
    """

    CACHE_MAX_CHARS = 2000

    def __init__(self, count: CountTokens, batch: CountTokensBatch | None) -> None:
        self._count = count
        self._batch = batch
        self._cache: dict[str, int] = {}

    def __call__(self, text: str) -> int:
        n = self._cache.get(text)
        if n is None:
            n = int(self._count(text))
            if len(text) <= self.CACHE_MAX_CHARS:
                self._cache[text] = n
        return n

    def many(self, texts: Sequence[str]) -> list[int]:
        if self._batch is None or len(texts) < 2:
            return [self(t) for t in texts]
        counts = [int(n) for n in self._batch(texts)]
        if len(counts) != len(texts):
            raise ValueError("count_tokens_batch returned the wrong number of counts")
        for text, n in zip(texts, counts, strict=True):
            if len(text) <= self.CACHE_MAX_CHARS:
                self._cache[text] = n
        return counts


@dataclass
class _Unit:
    """A span of doc.text that is never split further: a block, a sentence or a piece of one."""

    start: int
    end: int
    tokens: int
    block: int  # index into the chunker's blocks
    opens_block: bool  # the first unit of its block


@dataclass
class _Group:
    units: list[_Unit] = field(default_factory=list)
    overlap_start: int | None = None
    overlap_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.overlap_tokens + sum(u.tokens for u in self.units)

    @property
    def start(self) -> int:
        return self.units[0].start if self.overlap_start is None else self.overlap_start


class _Chunker:
    def __init__(self, doc: ParsedDocument, counter: _Counter, budget: int, overlap: int) -> None:
        self.text = doc.text
        self.count = counter
        self.budget = budget
        self.overlap = overlap
        self.max_chars = budget * MAX_CHARS_PER_TOKEN
        self.blocks: list[Block] = []
        self.spans: list[tuple[int, int]] = []
        for block in doc.blocks:
            span = trim_span(doc.text, max(block.start, 0), min(block.end, len(doc.text)))
            if span[0] < span[1]:
                self.blocks.append(block)
                self.spans.append(span)
        self.starts = [s for s, _ in self.spans]
        # The top level is the shallowest heading depth used more than once: a document's
        # single title heading is not a level of sections.
        depths = Counter(b.heading.count(" > ") + 1 for b in self.blocks if b.is_heading)
        self.top_depth = min((d for d, n in depths.items() if n > 1), default=1)
        self._sentences: dict[tuple[int, int], list[tuple[int, int]]] = {}
        # Finished chunks are counted again until the tokenizer has shown that its counts add
        # up across the whitespace between units (WordPiece does); after that, trust the sums.
        self._checked = 0
        self._additive = True

    # -- units ---------------------------------------------------------------------------------

    def units(self) -> list[_Unit]:
        counts = self.count.many([self.text[s:e] for s, e in self.spans])
        units: list[_Unit] = []
        for index, ((start, end), tokens) in enumerate(zip(self.spans, counts, strict=True)):
            if tokens <= self.budget and end - start <= self.max_chars:
                units.append(_Unit(start, end, tokens, index, True))
                continue
            sentences = self.sentences(start, end)
            counts = self.count.many([self.text[s:e] for s, e in sentences])
            pieces = [
                piece
                for (s, e), n in zip(sentences, counts, strict=True)
                for piece in (
                    [(s, e, n)]
                    if n <= self.budget and e - s <= self.max_chars
                    else self.pieces(s, e, n)
                )
            ]
            units.extend(_Unit(s, e, n, index, i == 0) for i, (s, e, n) in enumerate(pieces))
        return units

    def sentences(self, start: int, end: int) -> list[tuple[int, int]]:
        """Sentence spans of a span (cached; counted lazily, through the counter's cache)."""
        key = (start, end)
        spans = self._sentences.get(key)
        if spans is None:
            spans = self._sentences[key] = sentence_spans(self.text, start, end)
        return spans

    def pieces(self, start: int, end: int, tokens: int) -> list[tuple[int, int, int]]:
        """Cut a span that is over budget into pieces that fit, at spaces where there are any.

        The cut point is estimated from the tokens-per-character rate and checked with one
        count; a piece that comes out too long is cut shorter and counted again.
        """
        text = self.text
        rate = max(tokens / max(end - start, 1), 1e-6)
        out: list[tuple[int, int, int]] = []
        pos = start
        while pos < end:
            pos, _ = trim_span(text, pos, end)
            if pos >= end:
                break
            length = min(max(1, int(self.budget / rate * 0.95)), self.max_chars)
            while True:
                cut = min(end, pos + length)
                if cut < end:
                    space = text.rfind(" ", pos + 1, cut + 1)
                    if space > pos:
                        cut = space
                piece_end = trim_span(text, pos, cut)[1]
                n = self.count(text[pos:piece_end])
                if n <= self.budget or length == 1:
                    break
                length = max(1, min(length - 1, int(length * 0.9 * self.budget / n)))
            out.append((pos, piece_end, n))
            rate = max(n / max(piece_end - pos, 1), 1e-6)
            pos = cut
        return out

    # -- packing -------------------------------------------------------------------------------

    def section_threshold(self, unit: _Unit) -> int | None:
        """Content tokens after which ``unit`` starts a new chunk; None if it opens no section.

        A top-level heading (or a change of heading path without a heading block, as with PDF
        bookmarks) breaks once the chunk is non-trivial; a subsection heading once it is half
        full, so small subsections still share a chunk.
        """
        if not unit.opens_block:
            return None
        block = self.blocks[unit.block]
        if block.is_heading:
            if block.heading.count(" > ") + 1 <= self.top_depth:
                return self.budget // SECTION_MIN_SHARE
            return self.budget // 2
        if unit.block > 0 and self.blocks[unit.block - 1].heading != block.heading:
            return self.budget // SECTION_MIN_SHARE
        return None

    def pack(self, units: list[_Unit]) -> list[_Group]:
        groups: list[_Group] = []
        current = _Group()
        queue = deque(units)
        while queue:
            unit = queue.popleft()
            threshold = self.section_threshold(unit)
            is_heading = self.blocks[unit.block].is_heading
            if (
                current.units
                and (
                    current.tokens + unit.tokens > self.budget
                    or unit.end - current.start > self.max_chars
                )
                and all(self.blocks[u.block].is_heading for u in current.units)
                and not is_heading
            ):
                # rather than leave a heading alone in a chunk, cut the block after it into
                # sentences, so the first of them can join the heading
                split = self.split(unit)
                if len(split) > 1:
                    queue.extendleft(reversed(split))
                    continue
            while current.units:
                over = (
                    current.tokens + unit.tokens > self.budget
                    or unit.end - current.start > self.max_chars
                )
                content = sum(
                    u.tokens for u in current.units if not self.blocks[u.block].is_heading
                )
                section_break = threshold is not None and content >= threshold
                if not (over or section_break):
                    break
                carry: list[_Unit] = []
                if not section_break:
                    # a heading belongs with what follows it, not at the end of a chunk
                    keep = len(current.units)
                    while keep > 0 and self.blocks[current.units[keep - 1].block].is_heading:
                        keep -= 1
                    if keep > 0:
                        carry = current.units[keep:]
                        del current.units[keep:]
                groups.append(current)
                following = _Group(units=carry)
                last = current.units[-1]
                continues = (
                    threshold is None
                    and not (section_break or carry or self.blocks[last.block].is_heading)
                    and self.blocks[last.block].heading == self.blocks[unit.block].heading
                )
                if continues:
                    allowance = min(self.overlap, self.budget - unit.tokens)
                    if allowance > 0:
                        following.overlap_start, following.overlap_tokens = self.tail(
                            current, allowance
                        )
                        if following.overlap_start is not None and (
                            unit.end - following.overlap_start > self.max_chars
                        ):
                            following.overlap_start, following.overlap_tokens = None, 0
                current = following
            current.units.append(unit)
        if current.units:
            groups.append(current)
        return groups

    def split(self, unit: _Unit) -> list[_Unit]:
        """A whole-block unit as sentence units (itself alone if it is one sentence)."""
        if not unit.opens_block or (unit.start, unit.end) != self.spans[unit.block]:
            return [unit]
        sentences = self.sentences(unit.start, unit.end)
        counts = self.count.many([self.text[s:e] for s, e in sentences])
        return [
            _Unit(s, e, n, unit.block, i == 0)
            for i, ((s, e), n) in enumerate(zip(sentences, counts, strict=True))
        ]

    def tail(self, group: _Group, allowance: int) -> tuple[int | None, int]:
        """Where an overlap of at most ``allowance`` tokens from the end of ``group`` starts.

        Whole sentences where possible, else the last words of the last sentence.
        """
        floor = group.units[0].start  # the overlap never swallows the whole previous chunk
        start: int | None = None
        taken = 0
        last_sentence: tuple[int, int] | None = None
        for unit in reversed(group.units):
            for s, e in reversed(self.sentences(unit.start, unit.end)):
                last_sentence = last_sentence or (s, e)
                if s <= floor:
                    break
                n = self.count(self.text[s:e])
                if taken + n > allowance:
                    break
                start, taken = s, taken + n
            else:
                continue
            break
        if start is not None or last_sentence is None:
            return start, taken
        s, e = last_sentence
        words = [m.start() for m in _WORD.finditer(self.text, s, e)][-(allowance + 1) :]
        best: tuple[int | None, int] = (None, 0)
        low, high = 1, len(words) - 1  # never the whole sentence: it is over the allowance
        while low <= high:
            mid = (low + high) // 2
            if words[mid] <= floor:
                low = mid + 1
                continue
            n = self.count(self.text[words[mid] : e])
            if n <= allowance:
                best, high = (words[mid], n), mid - 1
            else:
                low = mid + 1
        return best

    def fits(self, text: str, estimate: int) -> bool:
        """Whether a chunk of several units, estimated at ``estimate`` tokens, is in budget."""
        if self._additive and self._checked >= ADDITIVITY_CHECKS:
            return estimate <= self.budget
        actual = self.count(text)
        self._checked += 1
        self._additive = self._additive and actual == estimate
        return actual <= self.budget

    # -- chunks --------------------------------------------------------------------------------

    def chunks(self) -> list[Chunk]:
        pending = self.pack(self.units())
        pending.reverse()
        chunks: list[Chunk] = []
        seen: set[str] = set()
        while pending:
            group = pending.pop()
            start = group.start
            end = group.units[-1].end
            text = self.text[start:end]
            # one unit alone was counted exactly; several are checked (see fits)
            exact = len(group.units) == 1 and group.overlap_start is None
            if not exact and not self.fits(text, group.tokens):
                # the tokenizer's counts did not add up: drop the overlap, else halve
                if group.overlap_start is not None:
                    pending.append(_Group(group.units))
                else:
                    half = len(group.units) // 2
                    pending.append(_Group(group.units[half:]))
                    pending.append(_Group(group.units[:half]))
                continue
            if text in seen:
                continue
            seen.add(text)
            block = self.blocks[max(bisect.bisect_right(self.starts, start) - 1, 0)]
            chunks.append(Chunk(text, start, end, block.page, block.heading))
        return chunks


def chunk_document(
    doc: ParsedDocument,
    count_tokens: CountTokens,
    max_tokens: int = 256,
    overlap_tokens: int = 40,
    *,
    count_tokens_batch: CountTokensBatch | None = None,
    headroom_tokens: int = HEADROOM_TOKENS,
) -> list[Chunk]:
    """Split ``doc`` into chunks of at most ``max_tokens - headroom_tokens`` tokens.

    ``count_tokens`` counts a string's tokens without special tokens; ``count_tokens_batch``,
    if given, counts many at once (faster with a Hugging Face tokenizer). Chunks are exact
    slices of ``doc.text``, never blank, never repeated; one that continues the previous
    chunk's section begins with about ``overlap_tokens`` of its end.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be at least 1")
    budget = max_tokens - headroom_tokens if max_tokens > 2 * headroom_tokens else max_tokens
    overlap = max(0, min(overlap_tokens, budget // 2))
    chunker = _Chunker(doc, _Counter(count_tokens, count_tokens_batch), budget, overlap)
    return chunker.chunks()
