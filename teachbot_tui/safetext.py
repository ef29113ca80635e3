"""Show text from documents and models as text.

Terminal control sequences (ANSI CSI/OSC/DCS, C0/C1 controls, bidi overrides) are removed so
that a document or a model can never move the cursor, retitle the window, write the
clipboard or fake a hyperlink. Newlines and tabs are kept.
"""

from __future__ import annotations

import re

_ESCAPES = re.compile(
    r"""
    \x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?     # OSC ... BEL / ST
  | \x1b[P^_X][^\x1b]*(?:\x1b\\)?          # DCS / PM / APC / SOS ... ST
  | \x1b\[[0-?]*[ -/]*[@-~]                # CSI
  | \x1b[@-Z\\-_]                          # other 2-byte escapes
  | \x9b[0-?]*[ -/]*[@-~]                  # 8-bit CSI
  | [\x9d\x90\x9e\x9f][^\x07\x9c]*[\x07\x9c]?  # 8-bit OSC/DCS/PM/APC
    """,
    re.VERBOSE,
)
_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def strip_controls(text: str) -> str:
    """Remove escape sequences and control characters; keep \\n and \\t; \\r becomes \\n."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROLS.sub("", _ESCAPES.sub("", text))
