"""Write a tiny random Hugging Face model of a common family, for trying teachbot-train offline.

    .venv/bin/python scripts/make_tiny_model.py qwen2 /tmp/tiny-qwen2
    .venv/bin/python scripts/make_tiny_model.py --list

Families: llama, mistral, qwen2, qwen3, gemma2, gemma3, phi3. Each gets the family's chat template
and a SentencePiece tokenizer with its special tokens, which llama.cpp's converter accepts. The
builder is trainer/tiny.py (the tests use it too). Prints the folder as the last line.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--list", action="store_true", help="print the families and exit")
    args = parser.parse_args()
    if args.list:
        print("\n".join(sorted(FAMILIES)))
        return
    if args.family is None or args.out is None:
        parser.error("give FAMILY and OUT_DIR (or --list)")
    out = make_tiny_model(args.family, args.out, seed=args.seed, hidden_size=args.hidden_size,
                          intermediate_size=2 * args.hidden_size, num_hidden_layers=args.layers)
    print(out.resolve())


if __name__ == "__main__":
    main()
