"""Runs llama.cpp's own converter in a child process (see trainer/convert.py).

    python -I _convert_driver.py CONVERTER_DIR hf   MODEL_DIR OUT OUTTYPE NAME [VOCAB_GGUF]
    python -I _convert_driver.py CONVERTER_DIR lora ADAPTER_DIR BASE_DIR OUT OUTTYPE

Started with ``-I`` so that neither teachbot's folders nor PYTHONPATH are on the path: the
converter's own ``gguf-py`` comes first, never the ``gguf`` package teachbot uses. With
VOCAB_GGUF, the tokenizer keys (vocabulary, merges, special tokens, chat template) are copied
from that GGUF instead of being rebuilt from the folder's tokenizer: a model trained on a GGUF
base keeps the base's tokenizer exactly.

On failure the last stderr line is ``CONVERT-ERROR: <reason>`` and the exit status is 1.
"""

from __future__ import annotations

import logging
import runpy
import sys
from pathlib import Path
from typing import Any

ERROR_PREFIX = "CONVERT-ERROR: "


class _LastError(logging.Handler):
    """Keeps the converter's last ERROR log line: it logs a reason, then calls sys.exit(1)."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        self.message = record.getMessage().strip().splitlines()[0] if record.getMessage() else ""


def _copy_vocab(writer: Any, gguf: Any, vocab_gguf: str) -> None:
    reader = gguf.GGUFReader(vocab_gguf, "r")
    for key, field in reader.fields.items():
        if not key.startswith("tokenizer."):
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), vtype, sub_type=sub)


def _hf(model_dir: str, out: str, outtype: str, name: str, vocab_gguf: str | None) -> None:
    import convert_hf_to_gguf as conv  # type: ignore[import-not-found]
    import gguf  # the converter's own gguf-py (first on the path)

    if vocab_gguf:
        original = conv.get_model_class

        def get_model_class(name: str, mmproj: bool = False) -> Any:
            cls = original(name, mmproj=mmproj)

            class WithBaseVocab(cls):  # type: ignore[misc, valid-type]
                model_arch = cls.model_arch

                def set_vocab(self) -> None:
                    _copy_vocab(self.gguf_writer, gguf, vocab_gguf)

            WithBaseVocab.__name__ = cls.__name__
            return WithBaseVocab

        conv.get_model_class = get_model_class
    sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outfile", out, "--outtype", outtype,
                "--model-name", name]
    conv.main()


def _lora(conv_dir: Path, adapter_dir: str, base_dir: str, out: str, outtype: str) -> None:
    sys.argv = ["convert_lora_to_gguf.py", adapter_dir, "--base", base_dir,
                "--outfile", out, "--outtype", outtype]
    runpy.run_path(str(conv_dir / "convert_lora_to_gguf.py"), run_name="__main__")


def main() -> None:
    conv_dir = Path(sys.argv[1])
    mode, rest = sys.argv[2], sys.argv[3:]
    sys.path[:0] = [str(conv_dir / "gguf-py"), str(conv_dir)]
    last = _LastError()
    logging.getLogger().addHandler(last)
    try:
        if mode == "hf":
            _hf(rest[0], rest[1], rest[2], rest[3], rest[4] if len(rest) > 4 else None)
        elif mode == "lora":
            _lora(conv_dir, *rest[:4])
        else:
            raise ValueError(f"unknown mode {mode!r}")
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(ERROR_PREFIX + (last.message or f"the converter stopped (exit {exc.code})"),
                  file=sys.stderr)
            raise SystemExit(1) from None
    except BaseException as exc:  # the converter raises bare asserts, ValueError, ...
        text = str(exc).strip().splitlines()
        reason = f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__
        print(ERROR_PREFIX + reason, file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
