"""Read and check a GGUF file's header without loading the model.

Used by the model registry (``teachbot models add``) and by the engine to turn every load
failure into one clear line before llama.cpp sees the file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

GGUF_MAGIC = b"GGUF"

# Architectures llama.cpp runs as chat models that teachbot has been used with. Others may
# work; they are allowed with a warning (architecture_warning) rather than refused.
KNOWN_ARCHITECTURES = frozenset(
    {"llama", "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "mistral", "granite",
     "olmo", "olmo2", "smollm3", "stablelm", "starcoder2", "deepseek2", "exaone", "falcon"}
)


def architecture_warning(architecture: str) -> str | None:
    """A one-line warning for an architecture teachbot has not been used with, else None."""
    if architecture in KNOWN_ARCHITECTURES:
        return None
    return (
        f"teachbot has not been used with {architecture!r} models; llama.cpp may still run it, "
        "and says so when it cannot"
    )


class GGUFError(Exception):
    """The file is not a usable GGUF; the message is one line naming the file."""


@dataclass(frozen=True)
class GGUFInfo:
    path: Path
    architecture: str
    name: str
    context_length: int
    chat_template: str | None
    size_bytes: int
    file_type: int | None
    n_tensors: int

    def as_dict(self) -> dict[str, object]:
        return {
            "path": str(self.path),
            "architecture": self.architecture,
            "name": self.name,
            "context_length": self.context_length,
            "has_chat_template": self.chat_template is not None,
            "size_bytes": self.size_bytes,
            "n_tensors": self.n_tensors,
        }


def _field_value(reader, key: str):  # type: ignore[no-untyped-def]
    f = reader.fields.get(key)
    if f is None:
        return None
    return f.contents()


def read_info(path: str | Path) -> GGUFInfo:
    """Validate the header (magic, architecture, context length, chat template, size)."""
    p = Path(path).expanduser()
    if not p.exists():
        raise GGUFError(f"{p}: no such file; check the path")
    if p.is_dir():
        raise GGUFError(f"{p}: is a folder; give the path of a .gguf file")
    try:
        with p.open("rb") as fh:
            magic = fh.read(4)
    except OSError as exc:
        raise GGUFError(f"{p}: cannot be read ({exc.strerror})") from None
    if magic != GGUF_MAGIC:
        raise GGUFError(f"{p}: not a GGUF model file (bad magic); pick a .gguf chat model")
    size = p.stat().st_size
    try:
        from gguf import GGUFReader

        reader = GGUFReader(p, "r")
    except Exception as exc:  # gguf-py raises ValueError/IndexError/struct errors on damage
        raise GGUFError(
            f"{p}: damaged or truncated GGUF header ({type(exc).__name__}); download it again"
        ) from None
    arch = _field_value(reader, "general.architecture")
    if not arch:
        raise GGUFError(f"{p}: GGUF without general.architecture; not a model file")
    ctx = _field_value(reader, f"{arch}.context_length") or 0
    template = _field_value(reader, "tokenizer.chat_template")
    name = _field_value(reader, "general.name") or p.stem
    end = 0
    for t in reader.tensors:
        end = max(end, int(t.data_offset) + int(t.n_bytes))
    if end > size:
        raise GGUFError(f"{p}: truncated ({size} of {end} bytes); download or export it again")
    file_type = _field_value(reader, "general.file_type")
    return GGUFInfo(
        path=p.resolve(),
        architecture=str(arch),
        name=str(name),
        context_length=int(ctx),
        chat_template=str(template) if template else None,
        size_bytes=size,
        file_type=int(file_type) if file_type is not None else None,
        n_tensors=len(reader.tensors),
    )
