"""Turn a teacher's file into plain text split into structural blocks.

``parse_file`` reads one file and returns a :class:`ParsedDocument`: the full text (blocks joined
by a blank line) plus the blocks in reading order, each with its character offsets, page or slide
number and heading path. Every way a file can be bad ends in one :class:`ParseError` whose
``reason`` is a short machine word and whose message is one line a teacher can act on; no
library exception, recursion error or zip bomb escapes.

One module per format family (``plaintext``, ``markdown``, ``delimited``, ``rtf``, ``webpage``,
``office``, ``pdfium``; ``pdf`` is the pypdf reference parser), each filling a
:class:`~.core.Builder` and listing its suffixes in a ``PARSERS`` dict; ``registry`` collects them. To add a format, write its module and name it in
``registry.FAMILIES``.
"""

from .core import MAX_FILE_BYTES, REASONS, Block, ParsedDocument, ParseError, clean_inline
from .plaintext import read_text_file
from .registry import SUPPORTED_SUFFIXES, parse_bytes, parse_file, read_file

__all__ = [
    "MAX_FILE_BYTES",
    "REASONS",
    "SUPPORTED_SUFFIXES",
    "Block",
    "ParseError",
    "ParsedDocument",
    "clean_inline",
    "parse_bytes",
    "parse_file",
    "read_file",
    "read_text_file",
]
