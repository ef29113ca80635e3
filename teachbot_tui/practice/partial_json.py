"""Parsing JSON that a model is still writing (or stopped writing early)."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["parse_partial_json"]


def parse_partial_json(text: str) -> Any:
    """Parse JSON, closing what a cut-short output left open (strings, arrays, objects)."""
    text = text.strip()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    stack: list[str] = []
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            stack.append("]" if ch == "[" else "}")
        elif ch in "]}" and stack:
            stack.pop()
    fixed = text + ('"' if in_string else "")
    fixed = re.sub(r"[,:\s]+$", "", fixed)
    if fixed.endswith('"') and not in_string and stack and stack[-1] == "}":
        # a dangling key without a value: drop it
        fixed = re.sub(r',?\s*"[^"]*"$', "", fixed)
    return json.loads(fixed + "".join(reversed(stack)))
