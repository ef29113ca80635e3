"""Export of a LoRA run to GGUF with llama.cpp's own converter, checked in llama.cpp.

Most tests use a tiny random llama from trainer/tiny.py; test_train_families.py covers the
other families; the last ones use the bundled SmolLM2-135M GGUF as the base.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from gguf import GGUFReader

from teachbot_tui import offline
from tests.tiny_llama import make_tiny_llama
from trainer.convert import check_supported, convert_folder, converter_dir, supported_architectures
from trainer.export import VERIFY_THRESHOLDS, export_run, read_run
from trainer.gguf_io import TrainerError, load_base, resolve_base
from trainer.tiny import make_tiny_model

offline.enforce()

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
SYSTEM = "You are a helpful coach for teachers."


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
        "system_prompt": SYSTEM,
        "steps": 1,
    }
    (run / "run.json").write_text(json.dumps(meta), encoding="utf-8")
    return run


def merged_model(run: Path):  # type: ignore[no-untyped-def]
    """The run's base with its adapter merged, in transformers (what the GGUF must equal)."""
    from peft import PeftModel

    spec = read_run(run)
    model, tok, _ = load_base(spec.base)
    return PeftModel.from_pretrained(model, str(spec.adapter_dir)).merge_and_unload().eval(), tok


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny")
    base = make_tiny_model("llama", root / "base")
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


PROMPT = ("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nWhat is a good way to end "
          "a lesson?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")


def test_converter_is_installed_and_knows_the_families() -> None:
    assert (converter_dir() / "convert_lora_to_gguf.py").is_file()
    assert {"LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "Qwen3ForCausalLM",
            "Gemma2ForCausalLM", "Gemma3ForCausalLM", "Phi3ForCausalLM"} <= supported_architectures()


@pytest.mark.slow
@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_merged_export_matches_transformers(tiny_run: Path, tmp_path: Path, quant: str) -> None:
    messages: list[str] = []
    out = tmp_path / f"tiny-{quant}.gguf"
    report = export_run(tiny_run, out, quant=quant, progress=messages.append)
    assert report.out == out and out.is_file() and report.size_bytes == out.stat().st_size
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # temporaries removed
    v = report.verify
    # f16: the bar; q8_0 also quantizes activations in llama.cpp (see VERIFY_THRESHOLDS)
    bar = 0.95 if quant == "f16" else 0.85
    assert v["prompts"] >= 3 and v["top1_agreement"] >= bar and v["topk_overlap"] >= 0.8, v
    assert messages and report.seconds > 0
    # the file carries the chat template, the base's name, and runs in llama.cpp
    fields = GGUFReader(out, "r").fields
    assert "<|start_header_id|>" in fields["tokenizer.chat_template"].contents()
    assert fields["general.name"].contents() == "base"
    assert _llama(out).n_vocab() == 512


@pytest.mark.slow
def test_merged_export_carries_the_lora(tiny_run: Path, tmp_path: Path) -> None:
    """The merged file differs from the base as much as the LoRA says, not by accident."""
    merged = export_run(tiny_run, tmp_path / "merged.gguf", quant="f16", verify=False).out
    base_dir = Path(json.loads((tiny_run / "run.json").read_text())["base"])
    no_lora = tmp_path / "nolora"
    make_run(no_lora, base_dir, b_std=0.0)
    plain = export_run(no_lora, tmp_path / "plain.gguf", quant="f16", verify=False).out
    d = np.abs(_last_logits(_llama(merged), PROMPT) - _last_logits(_llama(plain), PROMPT)).max()
    assert d > 0.05


@pytest.mark.slow
def test_adapter_export_loads_with_lora_path(tiny_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-lora.gguf"
    report = export_run(tiny_run, out, quant="f16", adapter=True)
    assert report.adapter and out.is_file()
    assert report.base_gguf is not None and report.base_gguf.is_file()
    assert report.verify["top1_agreement"] >= 0.95, report.verify

    fields = GGUFReader(out, "r").fields
    assert fields["general.type"].contents() == "adapter"
    assert fields["adapter.type"].contents() == "lora"
    assert fields["adapter.lora.alpha"].contents() == pytest.approx(8.0)

    with_lora = _last_logits(_llama(report.base_gguf, out), PROMPT)
    without = _last_logits(_llama(report.base_gguf), PROMPT)
    assert np.abs(with_lora - without).max() > 0.05
    # and the adapter applied by llama.cpp equals the merged export
    merged = export_run(tiny_run, tmp_path / "merged.gguf", quant="f16", verify=False).out
    assert np.abs(with_lora - _last_logits(_llama(merged), PROMPT)).max() < 0.05


@pytest.mark.slow
def test_gguf_roundtrip_through_transformers(tiny_run: Path, tmp_path: Path) -> None:
    """A GGUF we wrote loads back into transformers with the same weights: the merged model's
    logits come back (f32 file: equal up to float rounding)."""
    out = export_run(tiny_run, tmp_path / "rt.gguf", quant="f32", verify=False).out
    model, tok, info = load_base(out)
    assert info.kind == "gguf" and info.chat_template and info.eos_token == "<|eot_id|>"
    assert tok.eos_token == "<|eot_id|>" and tok.pad_token is not None
    assert not hasattr(model.config, "quantization_config")
    assert all(p.requires_grad for p in model.parameters())
    merged, hf_tok = merged_model(tiny_run)
    ids = hf_tok("what is a good lesson", add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        a, b = model(torch.tensor([ids])).logits, merged(torch.tensor([ids])).logits
    torch.testing.assert_close(a, b, rtol=0, atol=1e-4)
    base, _, _ = load_base(read_run(tiny_run).base)
    with torch.no_grad():  # and the LoRA is in there: the plain base differs
        assert (base(torch.tensor([ids])).logits - a).abs().max() > 0.05


@pytest.mark.slow
def test_export_from_gguf_base(tiny_run: Path, tmp_path: Path) -> None:
    """A run whose base is a GGUF: the export keeps that GGUF's tokenizer keys as they are."""
    base = export_run(tiny_run, tmp_path / "base.gguf", quant="f32", verify=False).out
    run = make_run(tmp_path / "run", base, seed=3, targets=["q_proj", "k_proj", "v_proj"])
    report = export_run(run, tmp_path / "out" / "x.gguf", quant="q8_0")
    assert report.verify["top1_agreement"] >= 0.9, report.verify
    before, after = GGUFReader(base, "r").fields, GGUFReader(report.out, "r").fields
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.chat_template",
                "tokenizer.ggml.eos_token_id"):
        assert after[key].contents() == before[key].contents(), key
    lora = export_run(run, tmp_path / "out" / "x-lora.gguf", adapter=True)
    assert lora.base_gguf == base and lora.verify["top1_agreement"] >= 0.9, lora.verify


@pytest.mark.slow
def test_converter_refusals_are_one_line(tmp_path: Path) -> None:
    """A tokenizer llama.cpp does not know, and a family it cannot convert: one line each."""
    bpe = make_tiny_llama(tmp_path / "bpe-llama")  # byte-level BPE of its own: unknown hash
    with pytest.raises(TrainerError) as err:
        convert_folder(bpe, tmp_path / "x.gguf", "f32")
    msg = str(err.value)
    assert "bpe-llama" in msg and "pre-tokenizer not recognized" in msg and "\n" not in msg
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text(json.dumps({"architectures": ["TeachbotToyForCausalLM"],
                                                 "model_type": "toy", "num_hidden_layers": 1}))
    with pytest.raises(TrainerError) as err:
        convert_folder(odd, tmp_path / "y.gguf", "f32")
    msg = str(err.value)
    assert msg.startswith(f"{odd}: llama.cpp's converter cannot write") and "\n" not in msg
    assert "TeachbotToyForCausalLM" in msg and not (tmp_path / "y.gguf").exists()


def test_unsupported_family_is_refused_before_training() -> None:
    check_supported("Qwen2ForCausalLM", "base")  # a known family passes
    with pytest.raises(TrainerError) as err:
        check_supported("OPTForCausalLM", "/models/opt")
    msg = str(err.value)
    assert msg.startswith("/models/opt: llama.cpp ") and "cannot convert OPTForCausalLM" in msg
    assert "\n" not in msg


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
def test_default_gguf_base_export_keeps_its_tokenizer(tmp_path: Path) -> None:
    """The bundled SmolLM2 GGUF as the base: merged Q8_0 and adapter exports, with the base's
    own tokenizer and chat template (transformers' rebuilt tokenizer would not hash to
    llama.cpp's "smollm" entry; the keys are copied from the base instead)."""
    run = make_run(tmp_path / "run", "default", r=4, alpha=8,
                   targets=["q_proj", "k_proj", "v_proj", "o_proj"], b_std=0.02)
    base = read_run(run).base
    report = export_run(run, tmp_path / "smol-q8.gguf", quant="q8_0")
    v = report.verify
    # the Q8_0 bar export itself holds (measured here 0.89-0.94: llama.cpp also quantizes
    # activations, and transformers' greedy continuation, whose positions are compared, turns
    # on near-ties that torch's thread count decides)
    assert v["top1_agreement"] >= VERIFY_THRESHOLDS["q8_0"][0], v
    assert v["topk_overlap"] >= VERIFY_THRESHOLDS["q8_0"][1], v
    before, after = GGUFReader(base, "r").fields, GGUFReader(report.out, "r").fields
    for key in ("tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.pre",
                "tokenizer.chat_template", "tokenizer.ggml.eos_token_id", "general.name"):
        assert after[key].contents() == before[key].contents(), key
    lora = export_run(run, tmp_path / "smol-lora.gguf", adapter=True)
    assert str(lora.base_gguf) == base and lora.verify["top1_agreement"] >= 0.9, lora.verify
