"""Smoke tests of the benchmark scripts: each runs for real on a tiny input, under the
network guard, and its last stdout line is one JSON object with the documented keys.
Nothing here asserts a timing (these machines are shared and noisy)."""

from __future__ import annotations

import importlib.metadata
import io
import json
import subprocess
import sys
import tarfile
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
    # the default model is loaded with its adapter, and decodes without it too
    assert out["adapter_decode_ratio"] > 0 and out["without_adapter_tok_s"] > 0
    # the follow-up on the same topic reads only its new turn, not the passages again
    assert out["turn2_same_topic_read_tokens_p50"] < out["turn1_read_tokens_p50"]


@pytest.mark.slow
def test_bench_structured_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_structured.py", "--runs", "1", "--max-tokens", "8",
                     timeout=900)
    for key in ("model", "n_vocab", "runs", "llguidance_tokenizer_s", "coach", "draft",
                "structured_ratio", "llama_grammar_ratio", "machine"):
        assert key in out, key
    for part in ("coach", "draft"):
        for mode in ("free", "llguidance", "llama_grammar"):
            assert out[part][f"{mode}_tokens"] > 0, (part, mode)
        for mode in ("llguidance", "llama_grammar"):
            assert out[part][f"{mode}_ratio"] > 0 and f"{mode}_valid" in out[part]
    assert out["model"] == "default" and out["runs"] == 1


@pytest.mark.slow
def test_bench_practice_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_practice.py", "--runs", "1", "--think", "0")
    for key in ("model", "scenario", "runs", "think_s", "feedback_seconds",
                "feedback_seconds_all", "first_line_seconds", "reply_seconds", "machine"):
        assert key in out, key
    assert len(out["feedback_seconds_all"]) == 1
    assert 0 < out["first_line_seconds"] <= out["feedback_seconds"]
    assert out["reply_seconds"] > 0


@pytest.mark.slow
def test_bench_startup_smoke(tmp_path: Path) -> None:
    """Starts the app (and a bare Textual app) in a pseudo-terminal once each."""
    out = run_script(tmp_path, "bench_startup.py", "--runs", "1")
    for key in ("runs", "entry", "cpus", "teachbot", "bare", "ratio_first_paint",
                "ratio_interactive", "overhead_ms", "target_ms", "meets_target"):
        assert key in out, key
    for which in ("teachbot", "bare"):
        for figure in ("first_paint_ms", "interactive_ms", "echo_ms", "echo_while_loading_ms"):
            assert len(out[which][figure]["all"]) == 1, (which, figure)
        assert 0 < out[which]["first_paint_ms"]["median"] <= out[which]["interactive_ms"]["median"]


@pytest.mark.slow
def test_bench_train_smoke(tmp_path: Path) -> None:
    """A tiny random llama, two steps per run, every variant three times, then the export."""
    out = run_script(tmp_path, "bench_train.py", "--steps", "2", "--batch-size", "2",
                     timeout=900)
    for key in ("bench", "device", "machine", "base", "steps", "batch_size", "records", "repeat",
                "ours", "ours_no_prefix", "hf_trainer", "hf_trainer_grouped",
                "speedup_vs_hf_trainer", "speedup_vs_hf_trainer_grouped", "shared_prefix_gain",
                "export"):
        assert key in out, key
    assert out["repeat"] == 3 and out["records"] == 4
    for variant in ("ours", "ours_no_prefix", "hf_trainer", "hf_trainer_grouped"):
        assert len(out[variant]["runs_tokens_per_s"]) == 3, variant
        assert out[variant]["median_tokens_per_s"] > 0, variant
    # both sides count the same real tokens of the same data
    assert out["ours"]["tokens_per_run"] == out["hf_trainer"]["tokens_per_run"]
    assert out["export"]["size_bytes"] > 0
    assert not any(tmp_path.glob("bench-train-*")), "the work folder was left behind"


@pytest.mark.slow
def test_make_tiny_model_smoke(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "make_tiny_model.py"), "qwen2", str(tmp_path / "m"),
         "--json"], capture_output=True, text=True, env=cli_env(tmp_path), timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["family"] == "qwen2" and Path(out["path"]) == (tmp_path / "m").resolve()
    assert out["parameters"] > 0
    assert {"config.json", "model.safetensors", "tokenizer.model"} <= set(out["files"])
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["model_type"] == "qwen2"


def converter_sdist(tmp: Path) -> tuple[Path, str]:
    """A llama-cpp-python sdist in miniature: the installed converter copy under the sdist's
    layout, plus files the copy must leave out."""
    version = importlib.metadata.version("llama-cpp-python")
    src = Path(sys.prefix) / "share" / "teachbot" / f"llama.cpp-{version}"
    assert (src / "convert_hf_to_gguf.py").is_file(), f"no converter in {src}: run setup.sh"
    top = f"llama_cpp_python-{version}"
    sdist = tmp / f"{top}.tar.gz"
    with tarfile.open(sdist, "w:gz") as tar:
        for path in sorted(src.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts and path.name != ".complete":
                tar.add(path, f"{top}/vendor/llama.cpp/{path.relative_to(src)}")
        for extra in ("vendor/llama.cpp/src/llama.cpp", "vendor/llama.cpp/gguf-py/tests/t.py",
                      "llama_cpp/llama.py"):
            info = tarfile.TarInfo(f"{top}/{extra}")
            info.size = 2
            tar.addfile(info, io.BytesIO(b"x\n"))
    return sdist, version


def fetch_converter(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPTS / "fetch_converter.py"), *args],
                          capture_output=True, text=True, timeout=120,
                          env=cli_env(home, PIP_NO_INDEX="1"))


def test_fetch_converter_smoke(tmp_path: Path) -> None:
    """From a local sdist into another prefix; idempotent; --check; offline it says what to
    do in one line and leaves nothing half-copied."""
    sdist, version = converter_sdist(tmp_path)
    prefix = tmp_path / "venv"
    proc = fetch_converter(tmp_path, "--sdist", str(sdist), "--prefix", str(prefix), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(out) == {"version", "path", "files", "kept"}
    dest = prefix / "share" / "teachbot" / f"llama.cpp-{version}"
    assert out["version"] == version and Path(out["path"]) == dest and out["kept"] is False
    kept = [p for p in dest.rglob("*") if p.is_file() and p.name != ".complete"]
    assert out["files"] == len(kept) > 10
    assert (dest / "convert_hf_to_gguf.py").is_file() and (dest / "gguf-py").is_dir()
    assert not (dest / "src").exists() and not (dest / "gguf-py" / "tests").exists()
    again = fetch_converter(tmp_path, "--sdist", str(sdist), "--prefix", str(prefix), "--json")
    assert again.returncode == 0
    assert json.loads(again.stdout.strip().splitlines()[-1])["kept"] is True
    assert fetch_converter(tmp_path, "--check", "--prefix", str(prefix)).returncode == 0

    empty = tmp_path / "empty"
    check = fetch_converter(tmp_path, "--check", "--prefix", str(empty))
    assert check.returncode == 1 and "no llama.cpp converter" in check.stderr
    offline = fetch_converter(tmp_path, "--prefix", str(empty))  # pip cannot reach an index
    assert offline.returncode == 1 and "Traceback" not in offline.stderr
    assert "--sdist" in offline.stderr and len(offline.stderr.strip().splitlines()) == 1
    assert not any((empty / "share" / "teachbot").iterdir())  # no partial copy
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(b"not a tar")
    bad = fetch_converter(tmp_path, "--sdist", str(broken), "--prefix", str(empty))
    assert bad.returncode == 1 and "broken.tar.gz" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1


def test_bench_pdf_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "bench_pdf.py", "--pages", "3", "--per-kind", "1", "--runs", "1")
    for key in ("bench", "runs", "pdfs", "handbook_speedup", "machine"):
        assert key in out, key
    assert set(out["pdfs"]) == {"prose", "tables", "columns", "handbook3"}
    for name, entry in out["pdfs"].items():
        for lib in ("pypdf", "pypdfium2"):
            assert entry[lib]["pages_per_s"] > 0, (name, lib)
            assert 0.0 <= entry[lib]["word_recall"] <= 1.0, (name, lib)
        assert entry["speedup"] > 0
    # PDFs made here with plain text: both libraries find most of the words
    assert out["pdfs"]["prose"]["pypdf"]["word_recall"] > 0.8


def test_make_grounded_data_smoke(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPTS / "make_grounded_data.py"), "--out", str(tmp_path / "g"),
         "--train", "12"], capture_output=True, text=True, env=cli_env(tmp_path), timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    for key in ("train", "heldout", "ask", "train_categories", "out"):
        assert key in out, key
    assert out["train"] == 12 == sum(out["train_categories"].values())
    lines = (tmp_path / "g" / "train.jsonl").read_text().splitlines()
    assert len(lines) == 12 and all(json.loads(line)["messages"] for line in lines)
    assert len(json.loads((tmp_path / "g" / "ask" / "questions.json").read_text())) == out["ask"]


@pytest.mark.slow
def test_make_bench_model_smoke(tmp_path: Path) -> None:
    """The benchmark model's recipe at toy size: HF folder, no-op LoRA run, Q4_K_M export."""
    out = run_script(tmp_path, "make_bench_model.py", "--tiny", timeout=900)
    assert out["made"] is True and Path(out["path"]).is_file()
    assert Path(out["path"]).is_relative_to(tmp_path / "bench-models")
    again = run_script(tmp_path, "make_bench_model.py", "--tiny")
    assert again["made"] is False and again["path"] == out["path"]  # cached


@pytest.mark.slow
@pytest.mark.parametrize("split", ["heldout", "followup"])
def test_eval_grounded_smoke(tmp_path: Path, split: str) -> None:
    out = run_script(tmp_path, "eval_grounded.py", "--limit", "1", "--skip-ask", "--roleplay",
                     "0", "--speed-runs", "0", "--split", split, timeout=900)
    for key in ("models", "settings", "heldout", "seconds"):
        assert key in out, key
    assert set(out["models"]) == set(out["heldout"]) == {"default-base", "default"}
    assert out["models"]["default"]["adapter"]  # the shipped adapter is applied
    assert out["models"]["default-base"]["adapter"] is None
    assert out["settings"]["split"] == split and out["settings"]["sets"] == ":1"
    for name, part in out["heldout"].items():
        assert part["mean_answer_tokens"] > 0, name
    assert "ask" not in out and "roleplay" not in out and "speed" not in out  # skipped


@pytest.mark.slow
def test_eval_grounded_ask_smoke(tmp_path: Path) -> None:
    out = run_script(tmp_path, "eval_grounded.py", "--models", "default", "--skip-heldout",
                     "--followups", "--roleplay", "0", "--speed-runs", "0", timeout=900)
    for part in ("ask", "ask_followups"):
        ask = out[part]["default"]
        assert ask["questions"] == 8 and ask["retrieved"] == 8, part
        assert ask["fact_and_right_per_round"] == [ask["fact_and_right"]], part


NOT_SMOKED = {
    "bench_memory.py": "the lead's: the whole app in tmux with the real model, per embedder",
    "train_default_adapter.py": "trains the shipped adapter on SmolLM2 (minutes on CPU); "
                                "its parts are make_grounded_data.py and teachbot-train",
    "setup.sh": "installs the environment",
}


def test_every_script_is_smoke_tested_or_says_why() -> None:
    for path in sorted(SCRIPTS.iterdir()):
        if path.suffix not in (".py", ".sh") or path.name.startswith("_"):
            continue
        assert f"test_{path.stem}_smoke" in globals() or path.name in NOT_SMOKED, (
            f"{path.name}: add test_{path.stem}_smoke here (or say in NOT_SMOKED why not)")
