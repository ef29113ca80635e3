"""Read and check a GGUF file's header without loading the model.

Used by the model registry (``teachbot models add``) and by the engine to turn every load
failure into one clear line before llama.cpp sees the file.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9
_WANTED = ("general.architecture", "general.name", "general.file_type", "general.alignment",
           "tokenizer.chat_template")


def _string(buf: Any, pos: int) -> tuple[str, int]:
    (n,) = struct.unpack_from("<Q", buf, pos)
    if pos + 8 + n > len(buf):
        raise ValueError("string past the end of the file")
    return buf[pos + 8:pos + 8 + n].decode("utf-8", "replace"), pos + 8 + n


def _value(buf: Any, vtype: int, pos: int) -> tuple[object, int]:
    """A metadata value and the position after it; arrays are skipped (None)."""
    if vtype in _SCALARS:
        fmt = _SCALARS[vtype]
        return struct.unpack_from(fmt, buf, pos)[0], pos + struct.calcsize(fmt)
    if vtype == _STRING:
        return _string(buf, pos)
    if vtype == _ARRAY:
        etype, count = struct.unpack_from("<IQ", buf, pos)
        pos += 12
        if etype in _SCALARS:
            return None, pos + count * struct.calcsize(_SCALARS[etype])
        for _ in range(count):
            _item, pos = _value(buf, etype, pos)
        return None, pos
    raise ValueError(f"unknown value type {vtype}")


def _metadata(buf: Any, wanted: Callable[[str], bool]) -> tuple[dict[str, object], int, int]:
    """(the wanted metadata values, the position after the metadata, the tensor count)."""
    if buf[:4] != GGUF_MAGIC:
        raise ValueError("not a GGUF file")
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", buf, 4)
    if version < 2:
        raise ValueError(f"GGUF version {version}")
    pos = 24
    found: dict[str, object] = {}
    for _ in range(n_kv):
        key, pos = _string(buf, pos)
        (vtype,) = struct.unpack_from("<I", buf, pos)
        item, pos = _value(buf, vtype, pos + 4)
        if wanted(key):
            found[key] = item
    return found, pos, n_tensors


def metadata(path: Path, keys: Collection[str]) -> dict[str, object]:
    """The values of ``keys`` in a GGUF's metadata, reading only the header: gguf-py's
    ``GGUFReader`` builds every vocabulary entry first (tens of thousands of numpy views:
    seconds per model). Raises OSError, struct.error or ValueError for a file that is not a
    readable GGUF."""
    import mmap

    with path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        return _metadata(buf, lambda key: key in keys)[0]


def _scan(p: Path) -> tuple[dict[str, object], int, int]:
    """(wanted metadata values, tensor count, end of the last tensor's data) from the
    header. Raises struct.error, ValueError or KeyError on a damaged header."""
    import mmap

    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    with p.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        found, pos, n_tensors = _metadata(
            buf, lambda key: key in _WANTED or key.endswith(".context_length"))
        tensors = []
        for _ in range(n_tensors):
            _name, pos = _string(buf, pos)
            (n_dims,) = struct.unpack_from("<I", buf, pos)
            dims = struct.unpack_from(f"<{n_dims}Q", buf, pos + 4)
            ttype, offset = struct.unpack_from("<IQ", buf, pos + 4 + 8 * n_dims)
            pos += 4 + 8 * n_dims + 12
            elements = 1
            for d in dims:
                elements *= d
            block, size = GGML_QUANT_SIZES[GGMLQuantizationType(ttype)]
            tensors.append(offset + elements * size // block)
        align = int(found.get("general.alignment") or 32)  # type: ignore[call-overload]
        start = pos + (-pos) % align
        return found, n_tensors, start + max(tensors, default=0)


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
        fields, n_tensors, end = _scan(p)
    except Exception as exc:  # struct.error, ValueError, KeyError (a damaged field), ...
        raise GGUFError(
            f"{p}: damaged or truncated GGUF header ({type(exc).__name__}); download it again"
        ) from None
    arch = fields.get("general.architecture")
    if not arch:
        raise GGUFError(f"{p}: GGUF without general.architecture; not a model file")
    ctx = fields.get(f"{arch}.context_length") or 0
    template = fields.get("tokenizer.chat_template")
    name = fields.get("general.name") or p.stem
    if end > size:
        raise GGUFError(f"{p}: truncated ({size} of {end} bytes); download or export it again")
    file_type = fields.get("general.file_type")
    return GGUFInfo(
        path=p.resolve(),
        architecture=str(arch),
        name=str(name),
        context_length=int(ctx),
        chat_template=str(template) if template else None,
        size_bytes=size,
        file_type=int(file_type) if file_type is not None else None,
        n_tensors=n_tensors,
    )
