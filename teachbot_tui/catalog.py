"""The model catalog: curated instruct GGUF models, and how well each fits this machine.

``catalog.json`` (beside this module, validated by ``catalog.schema.json``) lists the models
with the facts from their model pages. :func:`fit` gives each one a verdict for a machine:

* memory: the estimated RAM at a 4k context (``ram_4k_gb``) against the machine's RAM, and
  against the GPU's memory when llama.cpp can offload to one;
* speed: the default model's prompt-reading and writing speed, measured on this machine
  (:func:`measure_default_speed`, cached), carried over to a bigger file by a cost per token
  that is part fixed, part proportional to the file (:func:`scaled_tps`). Writing a token
  reads every weight once, so that part grows with the file; sampling, the vocabulary and
  llama.cpp's own overhead do not.

Nothing here touches the network.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from .paths import Paths

#: Estimated writing speed (tokens/s) at or above which a model feels quick, and below
#: which it is slow: a 250-token answer then takes more than a minute.
GOOD_DECODE_TPS = 10.0
SLOW_DECODE_TPS = 4.0
#: Share of the machine's RAM a model may take and still leave room for the system and the
#: app (the embedder, the library); up to TIGHT_RAM_SHARE it loads but squeezes the rest.
FIT_RAM_SHARE = 0.6
TIGHT_RAM_SHARE = 0.85
#: File size (bytes) of the bundled default model, used when it is not installed.
DEFAULT_FILE_BYTES = 98_362_432
#: Share of the default model's time per token that does not grow with the file, writing and
#: reading. Calibrated on these 2-core machines against a 1B model of Llama 3.2's shape
#: (Q4_K_M, 803 MB) timed the same way: ``scripts/bench_catalog.py`` measures both and the
#: estimate (docs/benchmarks.md, "Catalog speed estimate").
DECODE_FIXED_SHARE = 0.44
PROMPT_FIXED_SHARE = 0.67

SPEED_CACHE = "default-speed.json"


class CatalogError(Exception):
    """The catalog or a name in it is unusable; the message is one line."""


@dataclass(frozen=True)
class CatalogEntry:
    name: str
    title: str
    family: str
    parameters_b: float
    quantization: str
    file_size_bytes: int
    size_exact: bool
    ram_4k_gb: float
    context_length: int
    licence: str
    repo: str
    file: str
    sha256: str | None
    base_model: str
    base_gated: bool
    description: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Machine:
    """What a verdict depends on: memory, GPU memory, and the default model's speed."""

    ram_bytes: int
    vram_bytes: int | None  # None: no GPU llama.cpp can offload to
    prompt_tps: float  # default model, tokens/s reading the prompt
    decode_tps: float  # default model, tokens/s writing
    default_bytes: int = DEFAULT_FILE_BYTES
    cpu_count: int = 1
    measured: bool = True  # False: the speeds are the documented figures, not measured here

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Fit:
    entry: CatalogEntry
    memory: str  # "fits", "tight", "too big"
    gpu: str | None  # "fits" / "too big" in GPU memory; None without a GPU
    prompt_tps: float
    decode_tps: float
    speed: str  # "good", "usable", "slow"
    verdict: str  # "good fit", "usable", "slow", "too big"

    def as_dict(self) -> dict[str, Any]:
        return {**self.entry.as_dict(), "memory": self.memory, "gpu": self.gpu,
                "est_prompt_tps": round(self.prompt_tps, 1),
                "est_decode_tps": round(self.decode_tps, 1),
                "speed": self.speed, "verdict": self.verdict}


# -- the data file ----------------------------------------------------------------------------
def _read(name: str) -> Any:
    return json.loads(resources.files(__package__).joinpath(name).read_text(encoding="utf-8"))


def load_raw() -> dict[str, Any]:
    return _read("catalog.json")  # type: ignore[no-any-return]


def schema() -> dict[str, Any]:
    return _read("catalog.schema.json")  # type: ignore[no-any-return]


def validate(data: dict[str, Any]) -> None:
    """Raise CatalogError naming the first problem (schema, or duplicate names)."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    for error in sorted(validator.iter_errors(data), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise CatalogError(f"catalog.json: {where}: {error.message}")
    names = [m["name"] for m in data["models"]]
    dupes = {n for n in names if names.count(n) > 1}
    if dupes:
        raise CatalogError(f"catalog.json: duplicate names: {', '.join(sorted(dupes))}")


@cache
def entries() -> tuple[CatalogEntry, ...]:
    data = load_raw()
    validate(data)
    return tuple(CatalogEntry(**m) for m in data["models"])


def find(name: str) -> CatalogEntry | None:
    for e in entries():
        if e.name == name.lower():
            return e
    return None


def get(name: str) -> CatalogEntry:
    entry = find(name)
    if entry is None:
        from difflib import get_close_matches

        close = get_close_matches(name.lower(), [e.name for e in entries()], n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise CatalogError(f"no catalog model named {name!r}{hint} "
                           "(see `teachbot models catalog`, or give REPO/FILE.gguf)")
    return entry


# -- verdicts ---------------------------------------------------------------------------------
def scaled_tps(measured_tps: float, measured_bytes: int, file_bytes: int,
               fixed_share: float) -> float:
    """Tokens/s of a model file of ``file_bytes``, from one of ``measured_bytes`` measured at
    ``measured_tps``: the time per token is ``fixed_share`` of the measured one, plus the rest
    scaled by the file size."""
    per_token = (1 / measured_tps) * (fixed_share + (1 - fixed_share) * file_bytes
                                      / measured_bytes)
    return 1 / per_token


def fit(entry: CatalogEntry, machine: Machine) -> Fit:
    need = entry.ram_4k_gb * 1e9
    if need <= machine.ram_bytes * FIT_RAM_SHARE:
        memory = "fits"
    elif need <= machine.ram_bytes * TIGHT_RAM_SHARE:
        memory = "tight"
    else:
        memory = "too big"
    gpu = None
    if machine.vram_bytes is not None:
        gpu = "fits" if need <= machine.vram_bytes * 0.9 else "too big"
    prompt_tps = scaled_tps(machine.prompt_tps, machine.default_bytes, entry.file_size_bytes,
                            PROMPT_FIXED_SHARE)
    decode_tps = scaled_tps(machine.decode_tps, machine.default_bytes, entry.file_size_bytes,
                            DECODE_FIXED_SHARE)
    if gpu == "fits":
        speed = "good"  # offloaded whole: GPU memory bandwidth, far beyond these CPU figures
    elif decode_tps >= GOOD_DECODE_TPS:
        speed = "good"
    elif decode_tps >= SLOW_DECODE_TPS:
        speed = "usable"
    else:
        speed = "slow"
    if memory == "too big" and gpu != "fits":
        verdict = "too big"
    elif speed == "good" and memory == "fits" or gpu == "fits":
        verdict = "good fit"
    elif speed == "slow":
        verdict = "slow"
    else:
        verdict = "usable"
    return Fit(entry, memory, gpu, prompt_tps, decode_tps, speed, verdict)


def fits(machine: Machine) -> list[Fit]:
    return [fit(e, machine) for e in entries()]


def best_fit(results: list[Fit]) -> Fit | None:
    """The largest model with the best verdict there is (good fit, else usable)."""
    for verdict in ("good fit", "usable"):
        good = [f for f in results if f.verdict == verdict]
        if good:
            return max(good, key=lambda f: (f.entry.parameters_b, -f.entry.file_size_bytes))
    return None


# -- this machine -----------------------------------------------------------------------------
def total_ram() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 8 * 2**30


def gpu_memory() -> int | None:
    """Total memory of the first GPU when llama.cpp can offload to one (nvidia-smi), else None."""
    try:
        import llama_cpp

        if not llama_cpp.llama_supports_gpu_offload():
            return None
    except Exception:  # noqa: BLE001 - no llama.cpp, no GPU verdict
        return None
    import shutil
    import subprocess

    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run([smi, "--query-gpu=memory.total", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10).stdout
        return int(out.split()[0]) * 2**20
    except (OSError, ValueError, IndexError, subprocess.SubprocessError):
        return None


#: Figures documented for these 2-core machines (docs/benchmarks.md), used when the default
#: model is not installed so nothing can be measured.
FALLBACK_PROMPT_TPS = 253.0
FALLBACK_DECODE_TPS = 81.0


def measure_default_speed(threads: int = 0, decode_tokens: int = 24, runs: int = 3,
                          budget_s: float = 6.0) -> dict[str, Any]:
    """Time the bundled model (see :func:`measure_speed`)."""
    from . import defaults

    return measure_speed(defaults.chat_model_path(), threads, decode_tokens, runs, budget_s)


def measure_speed(path: Path, threads: int = 0, decode_tokens: int = 24, runs: int = 3,
                  budget_s: float = 6.0) -> dict[str, Any]:
    """Time a GGUF model through the app's own engine: reading a ~100-token prompt (the
    system prompt and a question) and writing ``decode_tokens`` tokens.

    The best of ``runs`` runs is kept: other programs only ever slow a run down, so the
    fastest one is the closest to what the machine can do. Each run changes the start of the
    prompt, so nothing is reused from the previous one.
    """
    from .config import DEFAULT_SYSTEM_PROMPT
    from .engine.base import Options, Usage
    from .engine.llama import LlamaEngine

    # threads=0: the engine's own rule (the cores other programs leave free), as the app runs
    engine = LlamaEngine(path, n_ctx=1024, n_threads=threads or None, gpu_layers=0,
                         name=path.stem)
    best_prompt = best_decode = 0.0
    question = ("List ten short classroom routines that help a class of nine-year-olds settle "
                "quickly after break, one per line.")
    try:
        started = time.perf_counter()
        for i in range(runs):
            if best_decode and time.perf_counter() - started > budget_s:
                break  # a busy machine: the runs so far are what it can spare
            usage = Usage()
            messages = [{"role": "system", "content": f"Session {i + 1}. {DEFAULT_SYSTEM_PROMPT}"},
                        {"role": "user", "content": question}]
            for _piece in engine.execute(messages, Options(max_tokens=decode_tokens,
                                                           temperature=0.0), None, usage):
                pass
            evaluated = usage.prompt_tokens - usage.cached_tokens
            if usage.prompt_eval_ms > 0 and evaluated > 0:
                best_prompt = max(best_prompt, evaluated / (usage.prompt_eval_ms / 1000))
            if usage.decode_ms > 0 and usage.decode_tokens > 1:
                best_decode = max(best_decode, usage.decode_tokens / (usage.decode_ms / 1000))
        used_threads = engine.n_threads
    finally:
        engine.close()
    if not best_prompt or not best_decode:
        raise CatalogError(f"could not time {path.name} (it wrote nothing); "
                           "try `teachbot models catalog --measure` again")
    import llama_cpp

    return {"prompt_tps": best_prompt, "decode_tps": best_decode,
            "threads": used_threads, "file_bytes": path.stat().st_size,
            "llama_cpp": getattr(llama_cpp, "__version__", "?"),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


def default_speed(paths: Paths, threads: int = 0, remeasure: bool = False,
                  measure: bool = True) -> dict[str, Any]:
    """The default model's speed on this machine: measured once, then read from the cache.

    With ``measure=False`` nothing is measured: the cached figure, else the documented one.
    """
    from . import defaults

    cache_file = paths.cache_dir / SPEED_CACHE
    if not remeasure and cache_file.is_file():
        try:
            data = json.loads(cache_file.read_text(encoding="utf-8"))
            if data.get("cpu_count") == os.cpu_count() and data.get("prompt_tps"):
                return data  # type: ignore[no-any-return]
        except (OSError, ValueError):
            pass
    if not measure or not defaults.chat_model().exists:
        return {"prompt_tps": FALLBACK_PROMPT_TPS, "decode_tps": FALLBACK_DECODE_TPS,
                "file_bytes": DEFAULT_FILE_BYTES, "measured": False}
    data = measure_default_speed(threads)
    data["cpu_count"] = os.cpu_count()
    data["measured"] = True
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        tmp.replace(cache_file)
    except OSError:
        pass  # a read-only cache only means measuring again next time
    return data


def this_machine(paths: Paths | None = None, threads: int = 0,
                 remeasure: bool = False, measure: bool = True) -> Machine:
    paths = paths or Paths.from_env()
    speed = default_speed(paths, threads, remeasure, measure)
    return Machine(ram_bytes=total_ram(), vram_bytes=gpu_memory(),
                   prompt_tps=float(speed["prompt_tps"]), decode_tps=float(speed["decode_tps"]),
                   default_bytes=int(speed.get("file_bytes") or DEFAULT_FILE_BYTES),
                   cpu_count=os.cpu_count() or 1, measured=bool(speed.get("measured", True)))


def gib(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def cached_path(paths: Paths, entry: CatalogEntry) -> Path:
    """Where ``teachbot models pull`` puts a catalog model's file."""
    return paths.data_dir / "models" / entry.file
