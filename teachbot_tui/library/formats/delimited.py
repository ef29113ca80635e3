"""CSV and other delimited tables: one block per row, cells joined by " | "."""

from __future__ import annotations

import csv
import io

from .core import Builder, ParsedDocument, clean_inline, normalize_newlines
from .plaintext import parse_text, read_text_file


def parse_csv(data: bytes) -> ParsedDocument:
    text, encoding = read_text_file(data)
    text = normalize_newlines(text)
    builder = Builder()
    try:
        try:
            dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(
                text[:8192], delimiters=",;\t|"
            )
        except csv.Error:
            dialect = csv.excel
        for row in csv.reader(io.StringIO(text), dialect):
            cells = [clean_inline(cell) for cell in row]
            builder.paragraph(" | ".join(cell for cell in cells if cell))
    except csv.Error:  # a field over csv's size limit, a stray quote: read it as plain text
        return parse_text(data)
    return builder.build("csv", meta={"encoding": encoding})


PARSERS = {".csv": parse_csv}
