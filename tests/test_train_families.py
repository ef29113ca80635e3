"""Every common family through the real pipeline: a tiny random model (trainer/tiny.py) is
trained a few steps, exported by llama.cpp's own converter as f16, quantized to q8_0 and written
as a LoRA adapter; each file is loaded in llama.cpp and compared with transformers on fixed
prompts in the family's chat template (same tokens, same greedy continuation, logit gap).

The chat-template masks of each family are checked in test_train_chat.py (fast).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from teachbot_tui.training_format import ChatRecord, write_jsonl
from trainer.export import export_run, read_run, verify_gguf
from trainer.gguf_io import load_base, quantize
from trainer.tiny import FAMILIES, make_tiny_model
from trainer.train import TrainConfig, train

QA = [
    ("What is 12 + 30?", "It is 42."),
    ("When does lunch start?", "Lunch is at 12:10."),
    ("What helps group work?", "Every member has a named role."),
    ("What does photosynthesis make?", "Sugar and oxygen."),
]
PROMPTS = ["How can I help a pupil who always finishes early?", "What is a good way to end a lesson?"]


def agrees(report: dict) -> bool:
    """The issue's bar: the same greedy tokens, or top-1 agreement of at least 0.95."""
    return report["same_greedy_tokens"] or report["top1_agreement"] >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_trains_exports_and_runs_in_llama_cpp(family: str, tmp_path: Path) -> None:
    base = make_tiny_model(family, tmp_path / family)
    data = tmp_path / "data"
    write_jsonl(data / "train.jsonl", [ChatRecord([{"role": "user", "content": q},
                                                   {"role": "assistant", "content": a}])
                                       for q, a in QA])
    run = tmp_path / "run"
    result = train(TrainConfig(data=str(data), base=str(base), out=str(run), max_steps=3,
                               lr=5e-3, batch_size=4, lora_r=4, lora_alpha=8,
                               early_stopping_patience=0, system_prompt="Coach.", max_len=256),
                   log=None)
    assert result.steps == 3

    f16 = export_run(run, tmp_path / "m-f16.gguf", quant="f16", prompts=PROMPTS)
    assert agrees(f16.verify), f16.verify
    assert f16.verify["max_abs_dlogit"] < 0.1, f16.verify  # the logit gap, reported

    # q8_0 from the same f16 file (one conversion per family), checked against the same model
    from peft import PeftModel

    spec = read_run(run)
    model, tok, _ = load_base(spec.base)
    merged = PeftModel.from_pretrained(model, str(spec.adapter_dir)).merge_and_unload().eval()
    q8 = quantize(f16.out, tmp_path / "m-q8_0.gguf", "q8_0")
    q8_report = verify_gguf(merged, tok, q8, quant="q8_0", system_prompt=spec.system_prompt,
                            prompts=PROMPTS)
    assert q8_report["top1_agreement"] >= 0.85, q8_report

    adapter = export_run(run, tmp_path / "a.gguf", quant="f16", adapter=True, prompts=PROMPTS)
    assert adapter.base_gguf is not None and adapter.base_gguf.is_file()
    assert agrees(adapter.verify), adapter.verify


def test_make_tiny_model_will_not_overwrite_a_folder(tmp_path: Path) -> None:
    """The script rewrites config, tokenizer and weights: a mistyped OUT_DIR that holds a model
    is refused in one line and left as it was."""
    import subprocess
    import sys

    script = Path(__file__).parents[1] / "scripts" / "make_tiny_model.py"
    real = tmp_path / "Qwen2.5-3B-Instruct"
    real.mkdir()
    (real / "config.json").write_text('{"model_type": "qwen2"}', encoding="utf-8")
    for out in (real, real / "config.json"):
        proc = subprocess.run([sys.executable, str(script), "qwen2", str(out)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and proc.stdout == ""
        assert proc.stderr.startswith(f"make_tiny_model: {out}: already exists"), proc.stderr
        assert len(proc.stderr.splitlines()) == 1
    assert sorted(p.name for p in real.iterdir()) == ["config.json"]
    assert (real / "config.json").read_text(encoding="utf-8") == '{"model_type": "qwen2"}'
