"""The table from file suffix to parser, and the two entry points, :func:`parse_file` and
:func:`parse_bytes`, that read a file safely and hand its bytes to the right parser.

Each format module lists its suffixes in a ``PARSERS`` dict; this module collects them.
"""

from __future__ import annotations

import errno
import os
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path

from . import delimited, markdown, office, pdfium, plaintext, rtf, webpage
from .core import MAX_FILE_BYTES, ZIP_EXPANSION_FACTOR, ZIP_LIMIT, ParsedDocument, ParseError

Parser = Callable[[bytes], ParsedDocument]

# The format families, each a module with a ``PARSERS`` dict from suffix to parser.
FAMILIES = (plaintext, markdown, delimited, rtf, webpage, office, pdfium)

_FORMATS: dict[str, Parser] = {
    suffix: parser for family in FAMILIES for suffix, parser in family.PARSERS.items()
}
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(_FORMATS)


def _stat(path: Path) -> os.stat_result:
    try:
        return os.stat(path)
    except FileNotFoundError as exc:
        raise ParseError("vanished", f"{path.name} no longer exists (moved or deleted?)") from exc
    except PermissionError as exc:
        raise ParseError("unreadable", f"no permission to read {path.name}") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ParseError(
                "symlink-loop", f"{path.name} is a link that points back to itself"
            ) from exc
        if exc.errno == errno.ENAMETOOLONG:
            raise ParseError("unreadable", "the path is too long") from exc
        raise ParseError("unreadable", f"cannot read {path.name} ({exc.strerror})") from exc


def read_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """A file's bytes, at most ``max_bytes`` (ParseError for anything that stops the read)."""
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError as exc:
        raise ParseError("vanished", f"{path.name} disappeared while being read") from exc
    except PermissionError as exc:
        raise ParseError(
            "unreadable", f"no permission to read {path.name}; check its permissions"
        ) from exc
    except IsADirectoryError as exc:
        raise ParseError("unreadable", f"{path.name} is a folder, not a file") from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ParseError(
                "symlink-loop", f"{path.name} is a link that points back to itself"
            ) from exc
        raise ParseError("unreadable", f"cannot read {path.name} ({exc.strerror or exc})") from exc
    if len(data) > max_bytes:
        raise ParseError(
            "huge", f"{path.name} grew past the {_mb(max_bytes)} limit while being read"
        )
    return data


def _mb(size: int) -> str:
    return f"{size / 2**20:.1f} MB" if size >= 2**20 else f"{size / 1024:.0f} KB"


def parse_bytes(data: bytes, suffix: str, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Parse a file's contents given its suffix (".pdf", ".md", ...); errors as for parse_file."""
    parser = _FORMATS.get(suffix.lower())
    if parser is None:
        raise ParseError(
            "unsupported", f"{suffix or 'files without a suffix'} files are not supported"
        )
    if len(data) > max_bytes:
        raise ParseError("huge", f"{_mb(len(data))} is over the {_mb(max_bytes)} limit")
    if not data.strip():
        raise ParseError(
            "empty", "the file is empty" if not data else "the file is only whitespace"
        )
    token = ZIP_LIMIT.set(ZIP_EXPANSION_FACTOR * max_bytes)
    try:
        document = parser(data)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError("corrupt", "the file is nested too deeply to read") from exc
    except MemoryError as exc:
        raise ParseError("huge", "the file needs more memory than is available") from exc
    except (zipfile.BadZipFile, KeyError, EOFError) as exc:
        raise ParseError("corrupt", f"damaged file ({type(exc).__name__}: {exc})") from exc
    except Exception as exc:  # any library's idea of a bad file
        raise ParseError(
            "corrupt", f"could not read the file ({type(exc).__name__}: {exc})"
        ) from exc
    finally:
        ZIP_LIMIT.reset(token)
    if not document.text.strip():
        raise ParseError("empty", "the file has no text")
    return document


def parse_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> ParsedDocument:
    """Read and parse one file.

    Never raises anything but :class:`ParseError` for a bad file: the reason says which kind of
    bad ("corrupt", "encrypted", "empty", "binary", "huge", "undecodable", "unreadable",
    "vanished", "symlink-loop", "unsupported") and the message what to do.
    """
    path = Path(path)
    info = _stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise ParseError("unreadable", f"{path.name} is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise ParseError("unreadable", f"{path.name} is not a regular file (a pipe or device?)")
    suffix = path.suffix.lower()
    if suffix not in _FORMATS:
        raise ParseError(
            "unsupported", f"{suffix or 'files without a suffix'} files are not supported"
        )
    if info.st_size > max_bytes:
        raise ParseError(
            "huge", f"{_mb(info.st_size)} is over the {_mb(max_bytes)} limit; split the file"
        )
    return parse_bytes(read_file(path, max_bytes), suffix, max_bytes)
