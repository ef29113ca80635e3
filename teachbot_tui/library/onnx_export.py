"""Export a sentence-transformers model folder to ONNX, once, for :mod:`.onnx_model`.

This is the only embedder module that imports torch and transformers, and it runs in its own
process (``python -m teachbot_tui.library.onnx_export``), so the app never loads them.
:func:`ensure_exported` finds an earlier export or starts that process under a file lock.

The export is the folder's transformer alone (token embeddings out); tokenization, pooling
and normalization stay in :mod:`.onnx_model`, read from the folder's own configuration. The
graph is then fused by ONNX Runtime's transformer optimizer and, for ``int8``, its MatMul
weights are quantized dynamically. Before the result is kept, it is checked against the torch
model on a few sentences; the figures go into ``export.json`` beside the model.

    python -m teachbot_tui.library.onnx_export --model DIR --out DIR [--quantize int8|fp32]
    python -m teachbot_tui.library.setup     # the default embedder, at set-up
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

# Bump when the exported graph changes in a way that changes the vectors: it is part of the
# embedder's fingerprint, so a library embedded by an older export is embedded again.
EXPORT_RECIPE = 1
QUANTIZATIONS = ("int8", "fp32")
MODEL_FILE = "model.onnx"
META_FILE = "export.json"
OPSET = 17

# Sentences the export is checked on (varied length and vocabulary).
CHECK_TEXTS = [
    "How can I settle a Year 7 class quickly after lunch?",
    "Exit tickets",
    "Think-pair-share gives quiet pupils a rehearsal before they speak to the whole class, "
    "and the teacher can listen in to pairs to pick whom to call on.",
    "Policy HS-104: fire drills take place once a term; registers are taken at the muster point.",
    "Retrieval quizzes at the start of the lesson strengthen recall of last week's fractions.",
    "A calm corner with a visual timetable helps pupils with anxiety before tests.",
]


class ExportError(Exception):
    """The export failed; the message is one line."""


def shared_dir() -> Path:
    """Exports made at set-up, shared by every TEACHBOT_HOME of this installation."""
    return Path(sys.prefix) / "share" / "teachbot" / "onnx"


def find_export(key: str, roots: list[Path]) -> Path | None:
    """The first complete export named ``key`` under ``roots``."""
    for root in roots:
        folder = root / key
        if (folder / MODEL_FILE).is_file() and (folder / META_FILE).is_file():
            return folder
    return None


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_exported(model: Path, key: str, quantize: str, roots: list[Path],
                    timeout: float = 900) -> Path:
    """The folder holding ``key``'s export: found under ``roots``, or made now under
    ``roots[0]`` by a subprocess (torch loads there, not here). One process exports at a
    time; the others wait for it and use its result."""
    found = find_export(key, roots)
    if found is not None:
        return found
    target = roots[0] / key
    with _file_lock(roots[0] / f".{key}.lock"):
        found = find_export(key, roots)
        if found is not None:
            return found
        # -P: the working directory is not put on sys.path (only the installed teachbot runs)
        cmd = [sys.executable, "-P", "-m", "teachbot_tui.library.onnx_export", "--model", str(model),
               "--out", str(target), "--quantize", quantize]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired:
            raise ExportError(f"{model}: the ONNX export took over {timeout:.0f} s") from None
        if proc.returncode != 0:
            lines = [x for x in proc.stderr.strip().splitlines() if x.strip()]
            raise ExportError(f"{model}: the ONNX export failed: "
                              f"{lines[-1] if lines else f'exit {proc.returncode}'}")
    found = find_export(key, roots)
    if found is None:
        raise ExportError(f"{model}: the ONNX export left no model in {target}")
    return found


# -- the export itself (runs in its own process) ------------------------------------------

def export(model_dir: Path, out: Path, quantize: str) -> dict[str, object]:
    """Export ``model_dir``'s transformer to ``out/model.onnx`` (written to a temporary
    folder first and moved into place whole, so a killed export leaves nothing half-made)."""
    from .onnx_model import read_config

    if quantize not in QUANTIZATIONS:
        raise ExportError(f"unknown quantization {quantize!r}: use one of {QUANTIZATIONS}")
    cfg = read_config(model_dir)  # refuses folders the ONNX runtime path cannot reproduce
    t0 = time.perf_counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        raw = tmp / "raw.onnx"
        hf = _torch_export(model_dir, raw)
        fused = tmp / "fused.onnx"
        _optimize(raw, fused, hf["num_heads"], hf["hidden_size"])
        final = tmp / MODEL_FILE
        if quantize == "int8":
            _quantize(fused, final)
        else:
            fused.replace(final)
        check = _check(model_dir, final, cfg)
        for extra in (raw, fused):
            extra.unlink(missing_ok=True)
        meta = {"recipe": EXPORT_RECIPE, "quantize": quantize, "opset": OPSET,
                "source": str(model_dir), "seconds": round(time.perf_counter() - t0, 1),
                "check": check, "onnxruntime": _version("onnxruntime"),
                "torch": _version("torch"), "transformers": _version("transformers")}
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1))
        tmp.chmod(0o755)  # mkdtemp makes it private; a set-up export is shared
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
        return meta
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return ""


def _torch_export(model_dir: Path, path: Path) -> dict[str, int]:
    import torch
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()
    inputs = _input_names(model)

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *args: torch.Tensor) -> torch.Tensor:
            return self.model(**dict(zip(inputs, args, strict=True))).last_hidden_state

    ids = torch.tensor([[101, 7592, 2088, 102, 0], [101, 2088, 2003, 1037, 102]])
    sample = {"input_ids": ids, "attention_mask": (ids != 0).long(),
              "token_type_ids": torch.zeros_like(ids)}
    axes = {name: {0: "batch", 1: "tokens"} for name in inputs}
    axes["token_embeddings"] = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(TokenEmbeddings(), tuple(sample[n] for n in inputs), str(path),
                          input_names=inputs, output_names=["token_embeddings"],
                          dynamic_axes=axes, opset_version=OPSET, dynamo=False)
    cfg = model.config
    return {"num_heads": int(cfg.num_attention_heads), "hidden_size": int(cfg.hidden_size)}


def _input_names(model: object) -> list[str]:
    import inspect

    params = inspect.signature(model.forward).parameters  # type: ignore[attr-defined]
    return [n for n in ("input_ids", "attention_mask", "token_type_ids") if n in params]


def _optimize(src: Path, dst: Path, num_heads: int, hidden_size: int) -> None:
    """Fuse attention, LayerNorm and GELU (ONNX Runtime's transformer optimizer)."""
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(src), model_type="bert", num_heads=num_heads,
                         hidden_size=hidden_size, opt_level=1, use_gpu=False)
    opt.save_model_to_file(str(dst))


def _quantize(src: Path, dst: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the fused contrib ops (Attention, SkipLayerNormalization) have no ONNX shape
    # inference: their outputs are float
    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=True,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def _check(model_dir: Path, onnx_path: Path, cfg: object) -> dict[str, float]:
    """Sentence vectors of the ONNX model against the torch model's (the same pooling),
    on CHECK_TEXTS: the smallest cosine similarity."""
    import numpy as np
    import torch
    from transformers import AutoModel

    from .onnx_model import OnnxSentenceModel

    onnx = OnnxSentenceModel(model_dir, onnx_path, threads=1)
    got = onnx.embed(CHECK_TEXTS)
    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager")
    model.eval()
    batch = onnx.tokenize(CHECK_TEXTS)
    names = _input_names(model)
    with torch.no_grad():
        tokens = model(**{n: torch.from_numpy(batch[n]) for n in names}).last_hidden_state
    want = onnx.pool(tokens.numpy(), batch["attention_mask"])
    cos = (got * want).sum(axis=1)
    return {"min_cosine": round(float(np.min(cos)), 6), "texts": len(CHECK_TEXTS)}


def main(argv: list[str] | None = None) -> int:
    from .. import offline

    offline.enforce()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="a sentence-transformers model folder")
    ap.add_argument("--out", help="the folder to write (replaced whole)")
    ap.add_argument("--quantize", default="int8", choices=QUANTIZATIONS)
    args = ap.parse_args(argv)
    try:
        if not args.model or not args.out:
            ap.error("--model and --out are needed (set-up uses teachbot_tui.library.setup)")
        meta = export(Path(args.model), Path(args.out), args.quantize)
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(meta))
    return 0


if __name__ == "__main__":
    sys.exit(main())
