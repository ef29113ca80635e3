"""Smoke tests of the benchmark scripts: each runs for real on a tiny input, under the
network guard, and its last stdout line is one JSON object with the documented keys.
Nothing here asserts a timing (these machines are shared and noisy)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import ROOT, cli_env

SCRIPTS = ROOT / "scripts"


def run_script(home: Path, name: str, *args: str, timeout: float = 240) -> dict:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / name), "--home", str(home), "--json", *args],
        capture_output=True, text=True, env=cli_env(home), timeout=timeout, cwd=ROOT,
    )
    assert proc.returncode == 0, f"{name} failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    last = proc.stdout.strip().splitlines()[-1]
    result = json.loads(last)
    assert isinstance(result, dict)
    return result


BENCHMARKS = ["bench_catalog.py", "bench_chat.py", "bench_import.py", "bench_memory.py", "bench_pdf.py",
              "bench_practice.py", "bench_retrieval.py", "bench_startup.py",
              "bench_structured.py", "bench_train.py", "eval_coach.py", "eval_grounded.py",
              "eval_retrieval.py", "make_bench_model.py"]


def test_every_benchmark_is_listed() -> None:
    found = sorted(p.name for p in SCRIPTS.glob("*.py")
                   if p.name.startswith(("bench_", "eval_")) or p.name == "make_bench_model.py")
    assert found == sorted(BENCHMARKS)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_help(name: str) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPTS / name), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--json" in proc.stdout and "--home" in proc.stdout


@pytest.mark.slow
def test_bench_import_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_import.py", "--files", "4", "--runs", "2",
                     "--reimport-files", "12")
    for key in ("throughput_ratio", "import_chunks_per_s", "raw_chunks_per_s", "chunks",
                "reimport_unchanged_s", "reimport_files", "machine"):
        assert key in out, key
    assert out["reimport_unchanged"] == 12
    assert out["throughput_ratio"] > 0


@pytest.mark.slow
def test_bench_retrieval_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_retrieval.py", "--chunks", "400", "--unique", "120",
                     "--queries", "4", "--ef-sweep", "32")
    for key in ("recall@10", "hybrid_p50_ms", "hybrid_p99_ms", "vector_p50_ms",
                "vector_p99_ms", "hybrid_passages_p50_ms", "documents_p50_ms", "parts_p50_ms",
                "ef_sweep", "build"):
        assert key in out, key
    assert 0.0 <= out["recall@10"] <= 1.0
    assert out["chunks"] == 400


@pytest.mark.slow
def test_eval_retrieval_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "eval_retrieval.py", "--dataset",
                     str(SCRIPTS / "data" / "beir-fixtures"), "--mode", "all", "--k", "5")
    for key in ("ndcg@5", "recall@5", "mrr@5", "modes", "scores", "threshold_sweep",
                "tuning_half"):
        assert key in out, key
    assert out["heldout_queries"] + out["tuning_queries"] == out["queries"]
    assert set(out["modes"]) == {"hybrid", "hybrid-passages", "vector", "keyword", "document"}
    # the fixture questions are answerable: retrieval is far better than chance
    assert out["modes"]["hybrid"]["recall@5"] > 0.5


def test_eval_coach_smoke(tmp_path: Path) -> None:
    """A few labelled responses of each half, scored with the real embedder."""
    out = run_script(tmp_path, "eval_coach.py", "--split", "all", "--limit", "12")
    assert out["responses"] == 12 and out["split"] == "all"
    for key in ("signals", "criteria", "overall", "tied_pairs", "tied_pairs_shown"):
        assert key in out, key
    assert set(out["signals"]) == {"names_mistake", "locates", "guides", "reveals_answer",
                                   "next_step", "tone_encouraging", "tone_harsh",
                                   "on_situation"}
    assert 0.0 <= out["tied_pairs"] <= 1.0
    assert out["overall"]["auc_good_vs_poor"] is not None


def test_coach_split_is_fixed_and_halves_the_set() -> None:
    sys.path.insert(0, str(SCRIPTS / "data" / "coach"))
    import make_split

    items = make_split.load()
    stored = json.loads((SCRIPTS / "data" / "coach" / "split.json").read_text("utf-8"))
    assert make_split.split(items) == stored  # split.json is what the seed gives
    assert len(items) >= 200 and len({it["scenario"] for it in items}) >= 20
    assert abs(sum(v == "test" for v in stored.values()) - len(items) / 2) <= 1


@pytest.mark.slow
def test_bench_catalog_smoke(tmp_path: Path) -> None:
    """Both models timed the app's way; the estimate and the implied shares come out."""
    out = run_script(tmp_path, "bench_catalog.py", "--model", "bench-1b-tiny", "--runs", "1")
    for key in ("default_decode_tps", "model_decode_tps", "est_decode_tps",
                "linear_est_decode_tps", "implied_decode_fixed_share", "est_prompt_tps"):
        assert key in out, key
    assert out["default_decode_tps"] > 0 and out["model_decode_tps"] > 0
    # the toy model's file is smaller than the default's: both estimates say faster
    assert out["model_bytes"] < out["default_bytes"]
    assert out["est_decode_tps"] > out["default_decode_tps"]


@pytest.mark.slow
def test_bench_chat_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_chat.py", "--runs", "1", "--max-tokens", "8",
                     "--library-chunks", "300", "--unique", "90", "--questions", "2")
    for key in ("decode_ratio", "first_turn_ttft_ms", "second_turn_ratio_same_topic",
                "second_turn_ratio_new_topic", "secondary_second_turn_ratio_no_retrieval",
                "retrieval_p50_ms", "turn2_same_topic_read_tokens_p50", "cancel_ms_p50"):
        assert key in out, key
    assert out["decode_ratio"] > 0
    # the follow-up on the same topic reads only its new turn, not the passages again
    assert out["turn2_same_topic_read_tokens_p50"] < out["turn1_read_tokens_p50"]
