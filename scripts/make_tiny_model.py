"""Write a tiny random Hugging Face model of a common family, for trying teachbot-train offline.

    .venv/bin/python scripts/make_tiny_model.py qwen2 /tmp/tiny-qwen2
    .venv/bin/python scripts/make_tiny_model.py --list

Families: llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3. Each gets the family's chat template
and a SentencePiece tokenizer with its special tokens, which llama.cpp's converter accepts. The
builder is trainer/tiny.py (the tests use it too). OUT_DIR must be new or empty (``--force``
overwrites a folder). Prints the folder as the last line; with
``--json``, one JSON object instead: ``family``, ``path``, ``parameters``, ``files``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.tiny import FAMILIES, make_tiny_model  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("family", nargs="?", choices=sorted(FAMILIES))
    parser.add_argument("out", nargs="?", type=Path, help="folder to write (created)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--hidden-size", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--force", action="store_true", help="overwrite a folder that is not empty")
    parser.add_argument("--list", action="store_true", help="print the families and exit")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    args = parser.parse_args()
    if args.list:
        print("\n".join(sorted(FAMILIES)))
        return
    if args.family is None or args.out is None:
        parser.error("give FAMILY and OUT_DIR (or --list)")
    if args.out.is_file() or (args.out.is_dir() and any(args.out.iterdir()) and not args.force):
        # it rewrites config, tokenizer and weights: a mistyped OUT_DIR must not hit a real model
        raise SystemExit(f"make_tiny_model: {args.out}: already exists and is not an empty "
                         "folder; pick a new OUT_DIR" + ("" if args.out.is_file() else
                                                         " (or add --force to overwrite it)"))
    out = make_tiny_model(args.family, args.out, seed=args.seed, hidden_size=args.hidden_size,
                          intermediate_size=2 * args.hidden_size, num_hidden_layers=args.layers)
    if not args.json:
        print(out.resolve())
        return
    print(json.dumps({"family": args.family, "path": str(out.resolve()),
                      "parameters": parameters(out / "model.safetensors"),
                      "files": sorted(p.name for p in out.iterdir() if p.is_file())}))


def parameters(weights: Path) -> int:
    """How many numbers the weights file holds (from the tensors' shapes)."""
    import math

    from safetensors import safe_open

    with safe_open(str(weights), framework="numpy") as fh:
        return sum(math.prod(fh.get_slice(name).get_shape()) for name in fh.keys())  # noqa: SIM118 - safe_open is not a dict




if __name__ == "__main__":
    main()
