"""Rich Text Format, through striprtf, in the code page the file declares."""

from __future__ import annotations

import codecs
import re

from .core import Builder, ParsedDocument, ParseError


def parse_rtf(data: bytes) -> ParsedDocument:
    if not data.lstrip().startswith(b"{\\rtf"):
        raise ParseError("corrupt", "not an RTF file (no {\\rtf header)")
    from striprtf.striprtf import rtf_to_text

    match = re.search(rb"\\ansicpg(\d+)", data[:4096])
    encoding = f"cp{match.group(1).decode()}" if match else "cp1252"
    try:
        codecs.lookup(encoding)
    except LookupError:
        encoding = "cp1252"
    text = rtf_to_text(data.decode("latin-1"), encoding=encoding, errors="replace")
    builder = Builder()
    builder.paragraphs(text.replace("\n", "\n\n"))
    return builder.build("rtf", meta={"encoding": encoding})


PARSERS = {".rtf": parse_rtf}
