"""The real chat engine: a GGUF model run by llama.cpp through llama-cpp-python.

* The chat template comes from the GGUF's own metadata (the same Jinja template
  ``create_chat_completion`` would use), so the prompt is exactly what the model was trained on.
* Prompts are tokenized once, and evaluated in slices that report progress. A cancel also
  aborts the slice being evaluated (llama.cpp's abort callback, checked between graph nodes),
  so Esc lands within milliseconds even on a large model. llama-cpp-python keeps the evaluated
  tokens: a new prompt that shares a prefix with the previous one (the next turn of a
  conversation) only evaluates what is new. A reply the model wrote does not always tokenize
  back to the tokens it was written as; when the next prompt repeats it, the prompt reuses the
  tokens the context holds for it (:meth:`LlamaEngine.tokenize_prompt`).
* The engine measures how fast the loaded model reads prompts (:meth:`LlamaEngine.prompt_speed`),
  so callers can size a prompt to a time budget.
* Decoding streams text pieces through :meth:`execute` (the loop is :mod:`.decoding`), which
  checks the cancel flag between tokens.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..gguf_info import GGUFError, read_info
from . import decoding, llama_api
from .base import Cancel, EngineError, Message, Options, Usage
from .llama_api import quiet_stderr

PROMPT_SLICE = 128  # tokens evaluated between progress reports
PROBE_TOKENS = 64  # tokens timed when no prompt has been read yet (prompt_speed)
SPEED_MIN_SLICE = 16  # slices shorter than this say little about the reading speed
SPEED_DECAY = 0.5  # weight of the older measurements when a new slice is timed
REUSE_MIN_GAIN = 16  # held tokens a prompt must gain by reusing them as written (tokenize_prompt)

PrefillProgress = Callable[[int, int], None]
"""``(tokens read, tokens to read)`` while a prompt is evaluated."""


def _available_memory() -> int | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


class CpuLoad:
    """How many cores other processes kept busy since the last look (Linux ``/proc``); time
    spent in lower-priority (niced) processes counts as free.

    llama.cpp's worker threads spin while they wait for each other, so a thread that shares
    its core with another busy process stalls the whole team: on 2 cores with one other busy
    process, 2 threads read prompts slower than 1 and decode at half the speed (see
    docs/benchmarks.md, "Threads and load"). :meth:`threads` turns the measurement into a
    thread count: one per core that others left free, at least one.
    """

    def __init__(self) -> None:
        self.cores = max(1, os.cpu_count() or 1)
        self._last = self._read()
        self.others = 0.0

    @staticmethod
    def _read() -> tuple[int, int, int] | None:
        """(all jiffies, jiffies free to us, this process's jiffies), or None without /proc."""
        try:
            with open("/proc/stat") as fh:
                stat = fh.readline()
            with open("/proc/self/stat") as fh:
                own = fh.read()
            return CpuLoad.parse(stat, own, os.getpriority(os.PRIO_PROCESS, 0) <= 0)
        except (OSError, ValueError, IndexError):
            return None

    @staticmethod
    def parse(stat_line: str, own_stat: str, niced_is_free: bool) -> tuple[int, int, int]:
        """The counters from /proc/stat's first line and /proc/self/stat. Free: idle, and
        (for a process at normal priority) the time of niced processes, which the kernel
        hands to our threads whenever they want it."""
        cpu = [int(x) for x in stat_line.split()[1:]]
        own = own_stat.rsplit(")", 1)[1].split()
        free = cpu[3] + cpu[4] + (cpu[1] if niced_is_free else 0)
        return sum(cpu[:8]), free, int(own[11]) + int(own[12])

    def threads(self) -> int:
        now = self._read()
        last, self._last = self._last, now
        if now is None or last is None:
            return self.cores
        total, idle, mine = (a - b for a, b in zip(now, last, strict=True))
        if total >= 10 * self.cores:  # at least ~0.1 s since the last look, else keep it
            self.others = max(0.0, (total - idle - mine) / total * self.cores)
        return max(1, self.cores - round(self.others))


def _shared_prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def gpu_offload_supported() -> bool:
    import llama_cpp

    return bool(llama_cpp.llama_supports_gpu_offload())


def resolve_gpu_layers(setting: str | int) -> int:
    if str(setting) == "auto":
        return -1 if gpu_offload_supported() else 0
    return int(setting)


class LlamaEngine:
    """A loaded GGUF chat model. Construct with :meth:`load` (or directly with a path)."""

    def __init__(
        self,
        path: str | Path,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        gpu_layers: str | int = "auto",
        name: str | None = None,
        progress: Callable[[float], None] | None = None,
        seed: int = 0,
        lora_path: str | Path | None = None,
    ) -> None:
        path = Path(path).expanduser()
        report = progress or (lambda _f: None)
        report(0.0)
        try:
            info = read_info(path)
        except GGUFError as exc:
            raise EngineError(str(exc)) from None
        available = _available_memory()
        if available is not None and info.size_bytes > available:
            raise EngineError(
                f"{path}: out of memory: the model needs {info.size_bytes / 2**30:.1f} GiB and "
                f"{available / 2**30:.1f} GiB is free; close programs or pick a smaller model"
            )
        report(0.05)
        import llama_cpp

        # no thread count given: each generation picks one from the current load (CpuLoad)
        self.cpu_load = None if n_threads else CpuLoad()
        n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.n_threads = n_threads
        if info.context_length:
            n_ctx = min(n_ctx, info.context_length)
        self.path = info.path
        self.name = name or path.stem
        self.info = info
        self.gpu_layers = resolve_gpu_layers(gpu_layers)
        self.seed = seed  # the sampling seed: the last one given (here or in Options.seed)

        def on_progress(fraction: float) -> bool:
            report(0.05 + 0.9 * float(fraction))
            return True

        kwargs: dict[str, Any] = dict(
            model_path=str(info.path), n_ctx=n_ctx, n_threads=n_threads,
            n_threads_batch=n_threads, n_gpu_layers=self.gpu_layers, seed=seed,
            verbose=False, n_batch=512,
            # measured on 2 cores (docs/benchmarks.md, "Chat model memory"): 128-token
            # micro-batches and an 8-bit key cache read prompts faster than llama.cpp's
            # defaults and take ~38 MB less at a 4k context (the value cache stays f16:
            # quantizing it needs flash attention, which read 10-20% slower here)
            n_ubatch=128, type_k=llama_cpp.GGML_TYPE_Q8_0,
        )
        # a LoRA adapter GGUF, applied per generation (Options.adapter); loaded here rather
        # than by Llama(lora_path=...), which applies it to everything and turns off mmap
        self.lora_path = Path(lora_path) if lora_path else None
        if self.lora_path is not None and not self.lora_path.is_file():
            raise EngineError(f"{self.lora_path}: adapter file not found; reinstall "
                              "teachbot or pick another model")
        self._adapter: Any = None
        self._adapter_on = False
        try:
            with llama_api.load_progress(on_progress):
                self.llm = llama_cpp.Llama(**kwargs)
        except MemoryError:
            raise EngineError(f"{path}: out of memory while loading; pick a smaller model "
                              "or lower n_ctx") from None
        except (ValueError, RuntimeError, OSError) as exc:
            raise EngineError(
                f"{path}: llama.cpp could not load this model (architecture "
                f"{info.architecture!r}): {str(exc).splitlines()[0] if str(exc) else 'failed'}; "
                "update llama-cpp-python or pick a llama-family GGUF"
            ) from None
        if self.lora_path is not None:
            try:
                self._adapter = llama_api.load_adapter(self.llm, str(self.lora_path))
                llama_api.apply_adapter(self.llm, self._adapter)
                self._adapter_on = True
            except RuntimeError:
                self.llm.close()
                raise EngineError(f"{self.lora_path}: llama.cpp could not load this adapter "
                                  "for the model; reinstall teachbot or pick another model"
                                  ) from None
        self.n_ctx = int(self.llm.n_ctx())
        self._pieces: dict[int, bytes] = {}  # token -> its text's bytes (_reuse_held)
        self._setup_template()
        self._read_tokens = 0.0  # decayed sums of timed prompt slices (prompt_speed)
        self._read_seconds = 0.0
        self._abort_when: Cancel | None = None
        self._install_abort()
        report(1.0)

    @classmethod
    def load(cls, entry: Any, settings: Any,
             progress: Callable[[float], None] | None = None) -> LlamaEngine:
        """Load a registry entry (``teachbot_tui.registry.ModelEntry``) with the settings'
        n_ctx, threads and gpu_layers."""
        engine = cls(entry.path, n_ctx=settings.n_ctx, n_threads=settings.threads or None,
                     gpu_layers=settings.gpu_layers, name=entry.name, progress=progress,
                     lora_path=getattr(entry, "adapter", None))
        engine.prompt_speed()  # measured now, so the first question is sized to its budget
        return engine

    # -- chat template -------------------------------------------------------------------
    def _setup_template(self) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        meta = self.llm.metadata
        template = meta.get("tokenizer.chat_template")
        if not template:
            raise EngineError(f"{self.path}: the GGUF has no chat template; use a chat "
                              "(instruct) model")
        eos_id = self.llm.token_eos()
        bos_id = self.llm.token_bos()
        eos = llama_api.token_text(self.llm, eos_id) if eos_id >= 0 else ""
        bos = llama_api.token_text(self.llm, bos_id) if bos_id >= 0 else ""
        self._formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos,
                                              stop_token_ids=[eos_id])
        self.eos_token = eos
        self.bos_token = bos
        self._adds_bos = llama_api.adds_bos(self.llm)
        eot = llama_api.eot_token(self.llm)
        self._stop_ids = {eos_id} | ({eot} if eot >= 0 else set())

    def format_prompt(self, messages: list[Message]) -> str:
        return self._formatter(messages=messages).prompt

    def _tokenize(self, messages: list[Message]) -> tuple[str, list[int]]:
        """The prompt's text (with the BOS text when the tokenizer adds one) and its tokens."""
        prompt = self.format_prompt(messages)
        # the template writes its own BOS where it wants one
        add_bos = self._adds_bos and not (self.eos_token and prompt.startswith(self.bos_token))
        tokens = self.llm.tokenize(prompt.encode("utf-8"), add_bos=add_bos, special=True)
        return (self.bos_token if add_bos else "") + prompt, tokens

    def tokenize_prompt(self, messages: list[Message]) -> list[int]:
        """The prompt's tokens. Where it starts with text the context holds, it keeps the held
        tokens for that text (see :meth:`_reuse_held`)."""
        text, tokens = self._tokenize(messages)
        return self._reuse_held(text, tokens)

    def _piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = llama_api.token_bytes(self.llm, token)
        return piece

    def _reuse_held(self, text: str, tokens: list[int]) -> list[int]:
        """``tokens``, or the held tokens for the longest start of ``text`` the context holds
        followed by the rest of ``text`` tokenized on its own, when that reuses at least
        :data:`REUSE_MIN_GAIN` more tokens.

        A reply is written token by token, and its text does not always tokenize back to the
        same tokens (of a 1B model's noise, 31 of 96 did), and it leaves out the control tokens
        the model wrote (each token is decoded here as :mod:`.decoding` does). The next turn,
        which repeats the reply, would otherwise read it again from the first difference. The
        split is made after a token the model itself wrote, on a character boundary, and only
        kept when the rest tokenizes to exactly its own text (a tokenizer that adds a space
        prefix does not)."""
        held = llama_api.held_tokens(self.llm)
        cached = _shared_prefix(held, tokens)
        if len(held) - cached < REUSE_MIN_GAIN:
            return tokens
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pos = keep = cut = 0
        for i, token in enumerate(held):
            out = decoder.decode(self._piece(token))
            if not text.startswith(out, pos):
                if llama_api.token_bytes(self.llm, token, special=False):
                    break
                continue  # a control token the reply's text leaves out
            pos += len(out)
            if not decoder.getstate()[0]:  # no character left unfinished
                keep, cut = i + 1, pos
        if keep < cached + REUSE_MIN_GAIN:
            return tokens
        rest = self.llm.tokenize(text[cut:].encode("utf-8"), add_bos=False, special=True)
        if b"".join(self._piece(t) for t in rest) != text[cut:].encode("utf-8"):
            return tokens
        return held[:keep] + rest

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def count_prompt_tokens(self, messages: list[Message]) -> int:
        return len(self._tokenize(messages)[1])

    # -- generation ----------------------------------------------------------------------
    def execute(
        self,
        messages: list[Message],
        options: Options | None = None,
        cancel: Cancel | None = None,
        usage: Usage | None = None,
        progress: PrefillProgress | None = None,
    ) -> Iterator[str]:
        opts = options or Options()
        usage = usage if usage is not None else Usage()
        tokens = self.tokenize_prompt(messages)
        self._pick_threads()
        return self._stream(tokens, opts, cancel, usage, progress)

    def _use_adapter(self, on: bool) -> None:
        """Compute with the adapter (if the model has one) or without it. The context's
        tokens were computed under the other setting, so a change drops them."""
        on = on and self._adapter is not None
        if on != self._adapter_on:
            llama_api.apply_adapter(self.llm, self._adapter if on else None)
            llama_api.rewind(self.llm, 0)
            self._adapter_on = on

    def _pick_threads(self) -> None:
        """With ``threads = 0``, one thread per core that other processes left free."""
        if self.cpu_load is None:
            return
        n = self.cpu_load.threads()
        if n != self.n_threads:
            llama_api.set_threads(self.llm, n)
            self.n_threads = n

    # -- reading prompts: cache reuse, progress, cancel, speed -----------------------------
    def _cached_prefix(self, tokens: list[int]) -> int:
        """How many leading tokens of ``tokens`` the context already holds."""
        return _shared_prefix(llama_api.held_tokens(self.llm), tokens)

    def cached_tokens(self, messages: list[Message], adapter: bool = True) -> int:
        """Tokens of this prompt that would not be read again (the shared prefix), when
        generated with the adapter on or off (a change drops what the context holds)."""
        if (adapter and self._adapter is not None) != self._adapter_on:
            return 0
        return self._cached_prefix(self.tokenize_prompt(messages))

    def prompt_speed(self) -> float:
        """Prompt tokens read per second by this model here: measured on the prompts read so
        far (recent ones weigh more, so it follows the machine's load); before the first,
        on a short probe."""
        if self._read_seconds <= 0:
            self._probe_speed()
        return self._read_tokens / max(self._read_seconds, 1e-9)

    def _note_speed(self, tokens: int, seconds: float) -> None:
        if tokens >= SPEED_MIN_SLICE and seconds > 0:
            self._read_tokens = self._read_tokens * SPEED_DECAY + tokens
            self._read_seconds = self._read_seconds * SPEED_DECAY + seconds

    def _probe_speed(self) -> None:
        """Time one slice of filler text at the start of the context (after an untimed small
        one that pages the weights in); the next prompt replaces it."""
        filler = self.llm.tokenize(b" the class reads a short story together" * 16,
                                   add_bos=False, special=False)
        filler = (filler * (1 + (PROBE_TOKENS + 8) // max(1, len(filler))))[: PROBE_TOKENS + 8]
        llama_api.rewind(self.llm, 0)
        self.llm.eval(filler[:8])
        t0 = time.perf_counter()
        self.llm.eval(filler[8:])
        self._note_speed(len(filler) - 8, time.perf_counter() - t0)

    def _install_abort(self) -> None:
        """Let a set cancel flag abort the evaluation in progress (llama.cpp checks the
        callback between graph nodes). Only prompt reading arms it (:meth:`_prefill`)."""

        def should_abort() -> bool:
            flag = self._abort_when
            return flag is not None and flag.is_set

        self._abort_cb = llama_api.set_abort_callback(self.llm, should_abort)  # kept alive

    def _prefill(self, tokens: list[int], cancel: Cancel | None,
                 progress: PrefillProgress | None = None) -> bool:
        """Evaluate the prompt (all but its last token) in slices, reporting progress and
        timing each slice; False if cancelled (the slices read so far stay cached)."""
        llm = self.llm
        cached = self._cached_prefix(tokens)
        target = len(tokens) - 1
        if cached >= target:
            return True
        llama_api.rewind(llm, cached)
        total, pos = target - cached, cached
        if progress is not None:
            progress(0, total)
        self._abort_when = cancel
        try:
            while pos < target:
                if cancel is not None and cancel.is_set:
                    return False
                end = min(target, pos + PROMPT_SLICE)
                t0 = time.perf_counter()
                try:
                    with quiet_stderr():  # llama.cpp logs an aborted slice on fd 2
                        llm.eval(tokens[pos:end])
                except RuntimeError:
                    if cancel is not None and cancel.is_set:  # aborted mid-slice
                        return False
                    raise
                self._note_speed(end - pos, time.perf_counter() - t0)
                pos = end
                if progress is not None:
                    progress(pos - cached, total)
        finally:
            self._abort_when = None
        return True

    def _stream(self, tokens: list[int], opts: Options, cancel: Cancel | None,
                usage: Usage, progress: PrefillProgress | None = None) -> Iterator[str]:
        llm = self.llm
        self._use_adapter(opts.adapter)  # here, when the stream starts, not when it is made
        if len(tokens) + opts.max_tokens > self.n_ctx:
            raise EngineError(
                f"the prompt ({len(tokens)} tokens) and answer ({opts.max_tokens}) exceed the "
                f"context window ({self.n_ctx}); shorten the question or raise n_ctx"
            )
        usage.prompt_tokens = len(tokens)
        usage.cached_tokens = self._cached_prefix(tokens)
        t0 = time.perf_counter()
        if not self._prefill(tokens, cancel, progress):
            usage.finish_reason = "cancelled"
            return
        # a seed given is used; otherwise the next one follows from the last (as
        # create_completion does), so asking again gives another reply
        self.seed = opts.seed if opts.seed is not None else \
            random.Random(self.seed).randint(0, 2**32 - 1)
        llm.set_seed(self.seed)
        matcher = None
        if opts.json_schema is not None:  # JSON: llguidance's token masks (engine/structured)
            from . import structured

            matcher = structured.matcher_for(llm, opts.json_schema, self._stop_ids)
            if matcher is None:
                yield from decoding.grammar_decode(llm, tokens, opts, cancel, usage, t0,
                                                   seed=self.seed)
                return
        yield from decoding.decode(llm, tokens, opts, cancel, usage, t0, seed=self.seed,
                                   matcher=matcher)

    def warm_structured(self) -> None:
        """Prepare JSON decoding (llguidance's view of the vocabulary) before its first use;
        safe to call from a background thread."""
        from . import structured

        structured.warm(self.llm, self._stop_ids)

    def generate_json(self, messages: list[Message], schema: dict[str, Any],
                      options: Options | None = None, cancel: Cancel | None = None) -> Any:
        """Decode under the JSON schema's grammar and parse the result."""
        opts = options or Options(temperature=0.0)
        opts.json_schema = schema
        text = "".join(self.execute(messages, opts, cancel))
        try:
            return json.loads(text, strict=False)  # tolerate raw newlines in strings
        except json.JSONDecodeError as exc:
            raise EngineError(f"the model's JSON was cut short ({exc.msg}); raise max_tokens")\
                from None

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            with contextlib.suppress(Exception):
                if self._adapter is not None:
                    llama_api.apply_adapter(llm, None)
                    llama_api.free_adapter(self._adapter)
                    self._adapter = None
                llm.close()
