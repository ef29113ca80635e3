"""Settings: defaults, then ``config.toml``, then environment variables.

Every key is documented in ``docs/config.md`` (and that file is checked against
:data:`FIELDS` by a test). Environment variables are ``TEACHBOT_`` + the key in upper case,
e.g. ``TEACHBOT_N_CTX=8192``. Settings changed by the user are written back to the file;
environment overrides are never written.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from .paths import Paths

DEFAULT_SYSTEM_PROMPT = (
    "You are an experienced, practical teacher coach. You have taught for many years and "
    "now support colleagues. Give concrete, classroom-ready advice: what to do now, what to "
    "do next, and why it works. Be warm, brief and specific."
)

RETRIEVAL_MODES = ("hybrid", "vector", "keyword")


class ConfigError(Exception):
    """A setting has a value teachbot cannot use; the message says which and why."""


@dataclass(frozen=True)
class Settings:
    chat_model: str = "default"
    """Registry name of the chat model (``teachbot models list``)."""
    embedder: str = ""
    """Path to a sentence-transformers model folder; empty means the bundled MiniLM."""
    n_ctx: int = 4096
    """Context window of the chat model, in tokens."""
    threads: int = 0
    """CPU threads for llama.cpp; 0 means automatic: one per core other programs leave free."""
    gpu_layers: str = "auto"
    """Layers offloaded to the GPU: "auto" (all, when the build supports offload) or a number."""
    temperature: float = 0.3
    """Sampling temperature for answers; 0 is deterministic."""
    max_tokens: int = 512
    """Longest answer, in tokens; this much of n_ctx is reserved for the answer."""
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    """The coach's persona and instructions."""
    retrieval_k: int = 5
    """How many passages are given to the model."""
    answer_wait_s: float = 8.0
    """Seconds the model may spend reading new passages before it answers; 0 means no limit."""
    retrieval_threshold: float = 0.30
    """Minimum cosine similarity for a passage to count as relevant (MiniLM scale)."""
    retrieval_mode: str = "hybrid"
    """hybrid (vectors + keywords), vector or keyword."""
    theme: str = "textual-dark"
    """Textual theme of the app."""
    scenario_dir: str = ""
    """A folder of your own practice scenarios, merged with the starter bank."""
    keys: dict[str, str] = field(default_factory=dict)
    """Key remaps for the app: action name -> key, e.g. {"stop" = "ctrl+c"}."""

    def validate(self) -> Settings:
        if self.n_ctx < 512:
            raise ConfigError(f"n_ctx must be at least 512 (got {self.n_ctx})")
        if self.max_tokens < 1 or self.max_tokens >= self.n_ctx:
            raise ConfigError(f"max_tokens must be between 1 and n_ctx (got {self.max_tokens})")
        if self.retrieval_mode not in RETRIEVAL_MODES:
            raise ConfigError(
                f"retrieval_mode must be one of {', '.join(RETRIEVAL_MODES)} "
                f"(got {self.retrieval_mode!r})"
            )
        if not 0.0 <= self.retrieval_threshold <= 1.0:
            raise ConfigError("retrieval_threshold must be between 0 and 1")
        if self.retrieval_k < 1:
            raise ConfigError("retrieval_k must be at least 1")
        if self.answer_wait_s < 0:
            raise ConfigError(f"answer_wait_s must be 0 (no limit) or more (got {self.answer_wait_s})")
        if self.gpu_layers != "auto":
            try:
                int(self.gpu_layers)
            except ValueError:
                raise ConfigError(
                    f'gpu_layers must be "auto" or a number (got {self.gpu_layers!r})'
                ) from None
        return self

    @property
    def n_threads(self) -> int:
        return self.threads if self.threads > 0 else max(1, os.cpu_count() or 1)


FIELDS: dict[str, type] = {f.name: f.type for f in fields(Settings)}  # type: ignore[misc]


def _coerce(key: str, value: Any, source: str) -> Any:
    default = getattr(Settings(), key)
    try:
        if isinstance(default, bool):
            return value if isinstance(value, bool) else str(value).lower() in {"1", "true", "yes"}
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ValueError
            return {str(k): str(v) for k, v in value.items()}
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {key} has an invalid value {value!r}") from None


def load(paths: Paths | None = None) -> Settings:
    """Read settings: defaults, then config.toml, then TEACHBOT_* environment variables."""
    paths = paths or Paths.from_env()
    values: dict[str, Any] = {}
    if paths.config_file.exists():
        try:
            raw = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"{paths.config_file}: not valid TOML ({exc}); fix or delete the file"
            ) from None
        for key, value in raw.items():
            if key in FIELDS:
                values[key] = _coerce(key, value, str(paths.config_file))
    for key in FIELDS:
        env = os.environ.get(f"TEACHBOT_{key.upper()}")
        if env is not None and key != "keys":
            values[key] = _coerce(key, env, f"TEACHBOT_{key.upper()}")
    return replace(Settings(), **values).validate()


def save(changes: dict[str, Any], paths: Paths | None = None) -> Settings:
    """Write the given settings to config.toml (keeping the file's other keys) atomically."""
    import tomli_w

    paths = paths or Paths.from_env()
    current: dict[str, Any] = {}
    if paths.config_file.exists():
        current = tomllib.loads(paths.config_file.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if key not in FIELDS:
            raise ConfigError(f"unknown setting {key!r}")
        current[key] = _coerce(key, value, "setting")
    replace(Settings(), **{k: v for k, v in current.items() if k in FIELDS}).validate()
    paths.config_dir.mkdir(parents=True, exist_ok=True)
    tmp = paths.config_file.with_suffix(".toml.tmp")
    tmp.write_text(tomli_w.dumps(current), encoding="utf-8")
    os.replace(tmp, paths.config_file)
    return load(paths)


def as_dict(settings: Settings) -> dict[str, Any]:
    return asdict(settings)
