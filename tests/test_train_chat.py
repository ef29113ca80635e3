"""Each family's chat template: the prompt is what a chat client sends, the loss mask covers
the reply and ends at that family's end-of-turn token; families without a system role get the
system prompt folded into the first user turn exactly as their template would."""

from __future__ import annotations

from pathlib import Path

import pytest

from trainer.chat import fold_system, prompt_and_target_ids, render_chat
from trainer.gguf_io import load_folder_tokenizer
from trainer.tiny import FAMILIES, make_tiny_model

SYSTEM = "Coach."
MESSAGES = [{"role": "user", "content": "What is 7 x 8?"},
            {"role": "assistant", "content": "It is 56."}]

# family -> (rendered prompt, decoded target)
EXPECTED = {
    "llama": ("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCoach.<|eot_id|>"
              "<|start_header_id|>user<|end_header_id|>\n\nWhat is 7 x 8?<|eot_id|>"
              "<|start_header_id|>assistant<|end_header_id|>\n\n", "It is 56.<|eot_id|>"),
    "mistral": ("<s>[INST] Coach.\n\nWhat is 7 x 8? [/INST]", " It is 56.</s>"),
    "qwen2": ("<|im_start|>system\nCoach.<|im_end|>\n<|im_start|>user\nWhat is 7 x 8?<|im_end|>\n"
              "<|im_start|>assistant\n", "It is 56.<|im_end|>"),
    "gemma2": ("<bos><start_of_turn>user\nCoach.\n\nWhat is 7 x 8?<end_of_turn>\n"
               "<start_of_turn>model\n", "It is 56.<end_of_turn>"),
    "phi3": ("<|system|>\nCoach.<|end|>\n<|user|>\nWhat is 7 x 8?<|end|>\n<|assistant|>\n",
             "It is 56.<|end|>"),
}
EXPECTED["qwen3"] = EXPECTED["qwen2"]
EXPECTED["gemma3"] = EXPECTED["gemma2"]  # Gemma 3's template folds it itself, the same way


@pytest.fixture(scope="module")
def tokenizers(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("families")
    return {f: load_folder_tokenizer(make_tiny_model(f, root / f, num_hidden_layers=1))
            for f in FAMILIES}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_mask_ends_at_the_familys_end_of_turn(tokenizers: dict, family: str) -> None:
    tok = tokenizers[family]
    prompt, target = prompt_and_target_ids(tok, MESSAGES, SYSTEM)
    want_prompt, want_target = EXPECTED[family]
    assert render_chat(tok, [{"role": "system", "content": SYSTEM}, MESSAGES[0]], True) == want_prompt
    # the ids are the rendered text's own (no special tokens added), split where the reply starts
    assert prompt + target == tok(render_chat(tok, [{"role": "system", "content": SYSTEM},
                                                    *MESSAGES], False),
                                  add_special_tokens=False)["input_ids"][: len(prompt + target)]
    assert tok.decode(target).endswith(FAMILIES[family].end_of_turn)
    assert tok.decode(target).strip() == want_target.strip()
    assert tok.convert_ids_to_tokens(target[-1]) == FAMILIES[family].end_of_turn


def test_phi3_reply_ends_at_end_not_at_eos(tokenizers: dict) -> None:
    tok = tokenizers["phi3"]
    assert tok.eos_token == "<|endoftext|>"  # the rendered conversation ends with it ...
    _, target = prompt_and_target_ids(tok, MESSAGES, SYSTEM)
    assert "<|endoftext|>" not in tok.decode(target)  # ... but the reply stops at <|end|>


def test_gemma2_template_refuses_system_and_it_is_folded(tokenizers: dict) -> None:
    tok = tokenizers["gemma2"]
    with pytest.raises(Exception, match="System role not supported"):
        tok.apply_chat_template([{"role": "system", "content": SYSTEM}, MESSAGES[0]], tokenize=False)
    folded = fold_system([{"role": "system", "content": SYSTEM}, *MESSAGES])
    assert folded[0] == {"role": "user", "content": "Coach.\n\nWhat is 7 x 8?"}
    assert folded[1:] == MESSAGES[1:]


def test_tiny_folders_have_what_the_converter_needs(tmp_path: Path) -> None:
    folder = make_tiny_model("qwen2", tmp_path / "q", num_hidden_layers=1)
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.model", "tokenizer.json",
            "tokenizer_config.json"} <= names
    with pytest.raises(ValueError, match="unknown family"):
        make_tiny_model("gpt9", tmp_path / "x")
