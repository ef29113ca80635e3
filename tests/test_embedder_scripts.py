"""Smoke runs of the embedder's and the parser's new benchmark scripts on tiny inputs: each
runs for real under the network guard, cleans up, and its last stdout line is one JSON
object with the documented keys. Nothing here asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env

SCRIPTS = ROOT / "scripts"


def run_script(home: Path, name: str, *args: str, timeout: float = 600) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name), "--json", *args],
        capture_output=True, text=True, env=cli_env(home), timeout=timeout, cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert isinstance(result, dict)
    return result


@pytest.mark.parametrize("name", ["bench_memory.py", "bench_pdf.py"])
def test_help(name: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPTS / name), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--json" in proc.stdout and "--home" in proc.stdout


def test_bench_pdf_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_pdf.py", "--home", str(tmp_path / "keep"),
                     "--pages", "6", "--per-kind", "2", "--runs", "1")
    assert set(out["pdfs"]) == {"prose", "tables", "columns", "handbook6"}
    for entry in out["pdfs"].values():
        for lib in ("pypdf", "pypdfium2"):
            # the made PDFs hold plain text: both libraries must get nearly all of it
            assert entry[lib]["word_recall"] > 0.95, (lib, entry)
    assert (tmp_path / "keep" / "tables.pdf").read_bytes().startswith(b"%PDF-")


@pytest.mark.slow
def test_bench_memory_smoke(tmp_path: Path) -> None:
    """The real app, headless, with the default chat model: one question after importing
    two documents; the ONNX side never imports torch."""
    out = run_script(tmp_path, "bench_memory.py", "--home", str(tmp_path / "h"), "--runs", "1",
                     "--sides", "onnx", "--files", "2", "--questions", "1", "--max-tokens", "4")
    for key in ("peak_rss_mb", "search_ready_s", "import_s", "answered", "samples"):
        assert key in out, key
    assert out["answered"] == 1 and out["peak_rss_mb"] > 50
    assert out["torch_imported"] is False
