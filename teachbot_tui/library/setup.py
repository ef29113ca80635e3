"""Set-up's step for the library: export the default embedder to ONNX once, into this
installation's shared folder, so that no TEACHBOT_HOME pays for the export on first use.

    .venv/bin/python -m teachbot_tui.library.setup [--quantize int8|fp32]
"""

from __future__ import annotations

import argparse
import sys

from .embedder import Embedder
from .onnx_export import QUANTIZATIONS, ExportError, shared_dir


def main(argv: list[str] | None = None) -> int:
    from .. import offline

    offline.enforce()
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quantize", default="int8", choices=QUANTIZATIONS)
    args = ap.parse_args(argv)
    try:
        folder = Embedder.default_for_setup(args.quantize).export_dir(roots=[shared_dir()])
    except ExportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"onnx export: {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
