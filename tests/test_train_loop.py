"""teachbot-train train on a tiny random llama: masking, loss goes down, resume (from plain-data
checkpoints only), DDP (gloo), QLoRA's one-line refusal without a GPU."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from typer.testing import CliRunner

from teachbot_tui.training_format import ChatRecord, write_jsonl
from trainer.cli import app
from trainer.gguf_io import TrainerError, load_folder_tokenizer
from trainer.tiny import make_tiny_model
from trainer.train import TrainConfig, prompt_and_target_ids, train

ROOT = Path(__file__).parents[1]
SYSTEM = "Coach."
QA = [
    ("What is 12 + 30?", "It is 42."),
    ("What is 7 x 8?", "It is 56."),
    ("When does lunch start?", "Lunch is at 12:10."),
    ("When does school end?", "School ends at 15:30."),
    ("When does the bell ring?", "The bell rings at 8:45."),
    ("What helps group work?", "Every member has a named role."),
    ("What is an exit ticket for?", "To see who understood."),
    ("What does photosynthesis make?", "Sugar and oxygen."),
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return make_tiny_model("llama", tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    records = [ChatRecord([{"role": "user", "content": q}, {"role": "assistant", "content": a}]) for q, a in QA]
    write_jsonl(d / "train.jsonl", records)
    write_jsonl(d / "val.jsonl", records[:2])
    return d


def config(tiny: Path, data: Path, out: Path, **kw) -> TrainConfig:
    options = dict(data=str(data), base=str(tiny), out=str(out), max_steps=8, lr=5e-3,
                   batch_size=4, eval_steps=4, early_stopping_patience=0, system_prompt=SYSTEM,
                   max_len=512)
    options.update(kw)
    return TrainConfig(**options)


def adapter(run: Path) -> dict:
    return load_file(run / "adapter" / "adapter_model.safetensors")


def test_loss_only_on_the_reply_up_to_end_of_turn(tiny):
    tok = load_folder_tokenizer(tiny)
    messages = [{"role": "user", "content": "What is 7 x 8?"}, {"role": "assistant", "content": "It is 56."}]
    prompt, target = prompt_and_target_ids(tok, messages, SYSTEM)
    assert tok.decode(prompt) == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCoach.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nWhat is 7 x 8?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    assert tok.decode(target) == "It is 56.<|eot_id|>"  # ends at the end-of-turn token
    # the prompt is exactly what a chat client sends (template + generation prompt)
    sent = tok.apply_chat_template([{"role": "system", "content": SYSTEM}, messages[0]],
                                   tokenize=False, add_generation_prompt=True)
    assert tok.decode(prompt) == sent


def test_shared_prefix_gives_the_same_loss_and_gradients(tiny):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from trainer.batches import Example, collate, loss_sum

    tok = load_folder_tokenizer(tiny)
    torch.manual_seed(0)
    net = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny),
                         LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False))
    examples = [Example(p + t, len(p)) for p, t in (
        prompt_and_target_ids(tok, [{"role": "user", "content": q}, {"role": "assistant", "content": a}], SYSTEM)
        for q, a in QA[:4])]
    batch = collate(examples, tok.pad_token_id, torch.device("cpu"))
    assert batch["prefix"] >= 8  # the system turn and the user header

    def run(inner):
        net.zero_grad()
        loss, n = loss_sum(net, batch, lambda: torch.autocast("cpu", enabled=False), inner)
        loss.backward()
        return loss.item(), n, {k: p.grad.clone() for k, p in net.named_parameters() if p.requires_grad}

    plain_loss, plain_n, plain_grads = run(None)
    shared_loss, shared_n, shared_grads = run(net)
    assert shared_n == plain_n
    assert shared_loss == pytest.approx(plain_loss, rel=1e-5)
    for key, grad in plain_grads.items():
        torch.testing.assert_close(shared_grads[key], grad, rtol=1e-3, atol=2e-5)


@pytest.mark.slow
def test_training_lowers_loss_and_writes_the_run(tiny, data, tmp_path):
    run = tmp_path / "run"
    result = train(config(tiny, data, run, max_steps=16), log=None)
    losses = [h["loss"] for h in result.history]
    assert losses[-1] < 0.6 * losses[0]
    info = json.loads((run / "run.json").read_text())
    assert info["base"] == str(tiny.resolve()) and info["base_kind"] == "hf"
    assert info["steps"] == 16 and info["system_prompt"] == SYSTEM
    assert {m.rsplit(".", 1)[-1] for m in info["lora"]["target_modules"]} == {
        "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}
    assert info["val_loss"] is not None and info["best_step"] in (4, 8, 12, 16)
    assert (run / "adapter" / "adapter_config.json").exists()
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-12", "step-16"]


@pytest.mark.slow
def test_resume_continues_exactly(tiny, data, tmp_path):
    run = tmp_path / "run"
    cfg = config(tiny, data, run, max_steps=8, eval_steps=4, lora_dropout=0.1)
    train(cfg, log=None)
    full = adapter(run)
    # Simulate a crash after step 4: only the step-4 checkpoint survives.
    shutil.rmtree(run / "checkpoints" / "step-8")
    shutil.rmtree(run / "adapter")
    (run / "run.json").unlink()
    result = train(config(tiny, data, run, max_steps=8, eval_steps=4, lora_dropout=0.1),
                   resume=True, log=None)
    assert result.steps == 8 and [h["step"] for h in result.history] == list(range(1, 9))
    resumed = adapter(run)
    assert full.keys() == resumed.keys()
    for key in full:
        torch.testing.assert_close(resumed[key], full[key], rtol=0, atol=1e-6)


@pytest.mark.slow
def test_run_errors_are_one_line(tiny, data, tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--base", str(tiny), "--out", str(run), "--max-steps", "2",
            "--batch-size", "4", "--max-len", "512", "--quiet"]
    assert runner.invoke(app, args).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1
    assert again.stderr.strip().endswith("add --resume to continue it or pick a new --out")
    changed = runner.invoke(app, [*args, "--resume", "--lr", "1e-3"])
    assert changed.exit_code == 1 and "--resume: the run used lr=0.0002" in changed.stderr
    missing = runner.invoke(app, ["train", "--data", str(tmp_path), "--base", str(tiny), "--out", str(tmp_path / "r2")])
    assert missing.exit_code == 1 and "no train.jsonl" in missing.stderr
    base = runner.invoke(app, ["train", "--data", str(data), "--base", str(tmp_path / "nope"), "--out", str(tmp_path / "r3")])
    assert base.exit_code == 1 and "no such base model" in base.stderr
    for r in (again, changed, missing, base):
        assert "Traceback" not in r.output and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_two_rank_gloo_run(tiny, data, tmp_path):
    run = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "trainer.cli", "train", "--data", str(data), "--base", str(tiny), "--out", str(run),
           "--max-steps", "4", "--batch-size", "2", "--eval-steps", "2", "--lr", "5e-3", "--max-len", "512"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT, timeout=480)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the 2-rank gloo run did not finish in 480 s (a collective only one rank "
                    f"reached?); its stderr:\n{(exc.stderr or b'')[-3000:]!r}")
    assert proc.returncode == 0, proc.stderr[-3000:]
    info = json.loads((run / "run.json").read_text())
    assert info["world_size"] == 2 and info["steps"] == 4
    # only rank 0 logged and saved: one summary, one progress line per step
    assert proc.stdout.count("trained 4 steps") == 1
    assert proc.stderr.count("step 4/4") == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step-2", "step-4"]
    assert not list(run.rglob(".*.tmp"))


@pytest.mark.slow
def test_export_cli_on_a_trained_run(tiny, data, tmp_path):
    """train's run folder is what export reads: merged f16 and an adapter GGUF, verified."""
    run = tmp_path / "run"
    train(config(tiny, data, run, max_steps=2), log=None)
    runner = CliRunner()
    merged = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "m.gguf"), "--quant", "f16", "--json"])
    assert merged.exit_code == 0, merged.output
    report = json.loads(merged.stdout)
    assert report["quant"] == "f16" and Path(report["out"]).stat().st_size == report["size_bytes"]
    adapter = runner.invoke(app, ["export", str(run), "--out", str(tmp_path / "a.gguf"), "--adapter", "--quant", "f16"])
    assert adapter.exit_code == 0, adapter.output
    assert "the adapter applies to" in adapter.stdout
    assert "checked against transformers on 4 prompts: top-1 agreement " in adapter.stdout
    missing = runner.invoke(app, ["export", str(tmp_path / "nope"), "--out", str(tmp_path / "x.gguf")])
    assert missing.exit_code == 1 and missing.stderr.startswith("teachbot-train: ") and "Traceback" not in missing.output


@pytest.mark.slow
def test_tampered_checkpoint_is_refused_in_one_line(tiny, data, tmp_path):
    """Resume reads state.pt with weights_only=True: a checkpoint carrying pickled code is
    refused with one line, and the code never runs."""
    import pickle

    run = tmp_path / "run"
    train(config(tiny, data, run, max_steps=2, eval_steps=2), log=None)
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (Path.touch, (marker,))

    state = run / "checkpoints" / "step-2" / "state.pt"
    good = torch.load(state, weights_only=True)
    assert {"optimizer", "rng", "scheduler", "config"} <= good.keys()
    with state.open("wb") as fh:
        pickle.dump({**good, "history": Payload()}, fh)
    with pytest.raises(TrainerError) as err:
        train(config(tiny, data, run, max_steps=4, eval_steps=2), resume=True, log=None)
    msg = str(err.value)
    assert msg.startswith(f"{state}: refusing to load this checkpoint") and "\n" not in msg
    assert not marker.exists()
    cli = CliRunner().invoke(app, ["train", "--data", str(data), "--base", str(tiny), "--out", str(run),
                                   "--max-steps", "4", "--eval-steps", "2", "--batch-size", "4",
                                   "--lr", "5e-3", "--max-len", "512", "--resume", "--quiet"])
    assert cli.exit_code == 1 and len(cli.stderr.strip().splitlines()) == 1
    assert "refusing to load this checkpoint" in cli.stderr and not marker.exists()


def test_quantize_base_without_a_gpu_is_one_line(tiny, data, tmp_path):
    assert not torch.cuda.is_available()  # this test is for machines without CUDA
    result = CliRunner().invoke(app, ["train", "--data", str(data), "--base", str(tiny), "--out",
                                      str(tmp_path / "run"), "--quantize-base", "4bit", "--quiet"])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.stderr.strip().splitlines() == [
        "teachbot-train: --quantize-base 4bit needs an NVIDIA GPU with CUDA (bitsandbytes NF4) "
        "and this machine has none; train without --quantize-base"]
    odd = CliRunner().invoke(app, ["train", "--data", str(data), "--base", str(tiny), "--out",
                                   str(tmp_path / "run2"), "--quantize-base", "3bit", "--quiet"])
    assert odd.exit_code == 1 and "unknown; the choice is 4bit" in odd.stderr


@pytest.mark.slow
def test_gradient_checkpointing_follows_the_base_size(tiny, data, tmp_path, monkeypatch):
    import trainer.train as train_module

    small = train(config(tiny, data, tmp_path / "small", max_steps=1), log=None)
    assert json.loads((small.run / "run.json").read_text())["config"]["grad_checkpointing"] is False
    monkeypatch.setattr(train_module, "GRAD_CHECKPOINTING_MIN_PARAMS", 0)  # "a big base"
    big = train(config(tiny, data, tmp_path / "big", max_steps=1), log=None)
    assert json.loads((big.run / "run.json").read_text())["config"]["grad_checkpointing"] is True
    forced = train(config(tiny, data, tmp_path / "off", max_steps=1, grad_checkpointing=False), log=None)
    assert json.loads((forced.run / "run.json").read_text())["config"]["grad_checkpointing"] is False
