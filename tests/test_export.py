"""Export of a LoRA run to GGUF (merged + quantized, or as an adapter), checked in llama.cpp.

Most tests use the tiny random llama from tests/tiny_llama.py; the slow one uses the bundled
SmolLM2-135M GGUF as the base.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from teachbot_tui import offline

offline.enforce()

torch = pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("llama_cpp")

from tests.tiny_llama import make_tiny_llama  # noqa: E402
from trainer.export import export_run, read_run  # noqa: E402
from trainer.gguf_io import TrainerError, load_base, permute_qk, resolve_base  # noqa: E402

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def make_run(
    run: Path,
    base: Path | str,
    *,
    r: int = 4,
    alpha: int = 8,
    seed: int = 1,
    targets: list[str] | None = None,
    b_std: float = 0.05,
) -> Path:
    """A RUN folder as the training step leaves it, with random nonzero LoRA weights."""
    from peft import LoraConfig, get_peft_model

    model, _tok, info = load_base(base)
    config = LoraConfig(
        r=r,
        lora_alpha=alpha,
        lora_dropout=0.0,
        target_modules=targets or TARGETS,
        task_type="CAUSAL_LM",
    )
    peft_model = get_peft_model(model, config)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_B" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * b_std)
    run.mkdir(parents=True, exist_ok=True)
    peft_model.save_pretrained(run / "adapter")
    meta = {
        "base": str(info.path),
        "base_kind": info.kind,
        "lora": {"r": r, "alpha": alpha, "dropout": 0.0, "target_modules": targets or TARGETS},
        "system_prompt": "You are a helpful coach for teachers.",
        "steps": 1,
    }
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    base = make_tiny_llama(root / "base")
    return make_run(root / "run", base)


def _llama(path: Path, lora: Path | None = None):  # type: ignore[no-untyped-def]
    from llama_cpp import Llama

    return Llama(
        model_path=str(path),
        lora_path=str(lora) if lora else None,
        n_ctx=128,
        logits_all=True,
        verbose=False,
    )


def _last_logits(llm, text: str) -> np.ndarray:  # type: ignore[no-untyped-def]
    ids = llm.tokenize(text.encode(), add_bos=False, special=True)
    llm.reset()
    llm.eval(ids)
    return np.array(llm.scores[len(ids) - 1])


def test_tiny_llama_has_chat_template_and_loads(tmp_path: Path) -> None:
    base = make_tiny_llama(tmp_path / "m")
    model, tok, info = load_base(base)
    assert info.kind == "hf" and info.architecture == "llama"
    assert tok.chat_template and "<|im_start|>" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False
    )
    assert model.config.num_key_value_heads < model.config.num_attention_heads


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_merged_export_matches_transformers(tiny_run: Path, tmp_path: Path, quant: str) -> None:
    messages: list[str] = []
    out = tmp_path / f"tiny-{quant}.gguf"
    report = export_run(tiny_run, out, quant=quant, progress=messages.append)
    assert report.out == out and out.is_file() and report.size_bytes == out.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # temporaries removed
    v = report.verify
    assert v["prompts"] >= 3 and v["top1_agreement"] >= 0.9 and v["topk_overlap"] >= 0.8
    assert messages and report.seconds > 0
    # the file carries the chat template and runs in llama.cpp
    from gguf import GGUFReader

    reader = GGUFReader(out, "r")
    assert "<|im_start|>" in reader.fields["tokenizer.chat_template"].contents()
    llm = _llama(out)
    assert llm.n_vocab() == 384


def test_merged_export_carries_the_lora(tiny_run: Path, tmp_path: Path) -> None:
    """The merged file differs from the base as much as the LoRA says, not by accident."""
    merged = export_run(tiny_run, tmp_path / "merged.gguf", quant="f16", verify=False).out
    base_dir = Path(json.loads((tiny_run / "run.json").read_text())["base"])
    no_lora = tmp_path / "nolora"
    make_run(no_lora, base_dir, b_std=0.0)
    plain = export_run(no_lora, tmp_path / "plain.gguf", quant="f16", verify=False).out
    text = (
        "<|im_start|>user\nWhat is a good way to end a lesson?<|im_end|>\n<|im_start|>assistant\n"
    )
    d = np.abs(_last_logits(_llama(merged), text) - _last_logits(_llama(plain), text)).max()
    assert d > 0.05


def test_adapter_export_loads_with_lora_path(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-lora.gguf"
    report = export_run(tiny_run, out, quant="f16", adapter=True)
    assert report.adapter and out.is_file()
    assert report.base_gguf is not None and report.base_gguf.is_file()
    assert report.verify["top1_agreement"] >= 0.9

    from gguf import GGUFReader

    fields = GGUFReader(out, "r").fields
    assert fields["general.type"].contents() == "adapter"
    assert fields["adapter.type"].contents() == "lora"
    assert fields["adapter.lora.alpha"].contents() == pytest.approx(8.0)

    text = "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    with_lora = _last_logits(_llama(report.base_gguf, out), text)
    without = _last_logits(_llama(report.base_gguf), text)
    assert np.abs(with_lora - without).max() > 0.05
    # and the adapter applied by llama.cpp equals the merged export
    merged = export_run(tiny_run, tmp_path / "merged.gguf", quant="f16", verify=False).out
    assert np.abs(with_lora - _last_logits(_llama(merged), text)).max() < 0.05


def test_gguf_roundtrip_through_transformers(tiny_run: Path, tmp_path: Path) -> None:
    """A GGUF we wrote loads back into transformers with the same weights (q/k permutation)."""
    out = export_run(tiny_run, tmp_path / "rt.gguf", quant="f32", verify=False).out
    model, tok, info = load_base(out)
    assert info.kind == "gguf" and info.chat_template and info.eos_token == "<|im_end|>"
    assert tok.eos_token == "<|im_end|>" and tok.pad_token is not None
    assert not hasattr(model.config, "quantization_config")
    assert all(p.requires_grad for p in model.parameters())
    hf, _, _ = load_base(json.loads((tiny_run / "run.json").read_text())["base"])
    ids = torch.tensor([tok("what is a good lesson", add_special_tokens=False)["input_ids"]])
    with torch.no_grad():
        a, b = model(ids).logits, hf(ids).logits
    # not equal: the GGUF holds the LoRA-merged weights; but the same shape and finite
    assert a.shape == b.shape and torch.isfinite(a).all()


def test_export_from_gguf_base(tiny_run: Path, tmp_path: Path) -> None:
    """A run whose base is a GGUF: the exported file copies the base's metadata."""
    base = export_run(tiny_run, tmp_path / "base.gguf", quant="f32", verify=False).out
    run = make_run(tmp_path / "run", base, seed=3, targets=["q_proj", "k_proj", "v_proj"])
    report = export_run(run, tmp_path / "out" / "x.gguf", quant="q8_0")
    assert report.verify["top1_agreement"] >= 0.9
    lora = export_run(run, tmp_path / "out" / "x-lora.gguf", adapter=True)
    assert lora.base_gguf == base and lora.verify["top1_agreement"] >= 0.9


def test_permute_qk_matches_rotary_pairs() -> None:
    # 2 heads of dim 4: HF keeps (x0, x1 | x2, x3) halves, llama.cpp interleaves (x0, x2, x1, x3)
    w = np.arange(8, dtype=np.float32).reshape(8, 1)
    assert permute_qk(w, 2)[:, 0].tolist() == [0, 2, 1, 3, 4, 6, 5, 7]


def test_bad_run_folder_gives_one_line(tmp_path: Path) -> None:
    with pytest.raises(TrainerError) as err:
        export_run(tmp_path / "nope", tmp_path / "x.gguf")
    assert "nope" in str(err.value) and "\n" not in str(err.value)


def test_missing_adapter_gives_one_line(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"base": "default", "base_kind": "gguf"}))
    with pytest.raises(TrainerError) as err:
        read_run(run)
    assert "adapter" in str(err.value) and "\n" not in str(err.value)
    (run / "run.json").write_text("{not json")
    with pytest.raises(TrainerError, match="run.json"):
        read_run(run)


def test_unknown_quant_and_bad_base(tiny_run: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainerError, match="q4_k_m"):
        export_run(tiny_run, tmp_path / "x.gguf", quant="q3_weird")
    with pytest.raises(TrainerError, match="no such base"):
        resolve_base(tmp_path / "missing.gguf")
    (tmp_path / "junk.gguf").write_bytes(b"not a gguf at all")
    with pytest.raises(TrainerError, match="junk.gguf"):
        resolve_base(tmp_path / "junk.gguf")


@pytest.mark.slow
def test_default_gguf_base_q8_0_export(tmp_path: Path) -> None:
    from teachbot_tui.defaults import chat_model

    if not chat_model().exists:
        pytest.skip("bundled SmolLM2 GGUF not installed")
    run = make_run(
        tmp_path / "run",
        "default",
        r=4,
        alpha=8,
        targets=["q_proj", "k_proj", "v_proj", "o_proj"],
        b_std=0.02,
    )
    report = export_run(run, tmp_path / "smol-q8.gguf", quant="q8_0")
    v = report.verify
    assert v["top1_agreement"] >= 0.9 and v["topk_overlap"] >= 0.8, v
