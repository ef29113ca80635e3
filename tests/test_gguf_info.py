"""gguf_info reads a GGUF header itself (gguf-py's reader is seconds per model); this checks
it against gguf-py's ``GGUFReader`` on the bundled model. Slow: gguf-py's reader is the slow
part."""

from __future__ import annotations

import pytest

from teachbot_tui import defaults
from teachbot_tui.gguf_info import read_info


@pytest.mark.slow
def test_header_agrees_with_gguf_py() -> None:
    from gguf import GGUFReader

    path = defaults.chat_model_path()
    info = read_info(path)
    reader = GGUFReader(path, "r")

    def field(key: str) -> object:
        return reader.fields[key].contents()

    assert info.architecture == field("general.architecture")
    assert info.name == field("general.name")
    assert info.context_length == field(f"{info.architecture}.context_length")
    assert info.chat_template == field("tokenizer.chat_template")
    assert info.file_type == field("general.file_type")
    assert info.n_tensors == len(reader.tensors)
    end = max(int(t.data_offset) + int(t.n_bytes) for t in reader.tensors)
    assert end <= info.size_bytes == path.stat().st_size
    # one byte short of the last tensor's end is refused as truncated: both agree on the end
    from teachbot_tui import gguf_info

    _fields, _n, scanned_end = gguf_info._scan(path)
    assert scanned_end == end
