"""Chat formatting for training: each record in the base's own chat template, and the loss mask.

* The prompt is exactly what a chat client sends (template + generation prompt); the target is
  the reply up to and including the family's end-of-turn token (``<|im_end|>``, ``<|eot_id|>``,
  ``<end_of_turn>``, Phi-3's ``<|end|>``, Mistral's ``</s>``), so the model learns to stop.
* Templates without a system role: Gemma 3 and Mistral fold the system prompt into the first
  user turn themselves; Gemma 2's raises, and the same folding is done here.

Importing this module is cheap (no torch).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trainer import gguf_io
from trainer.gguf_io import TrainerError

# Tokens that end an assistant turn in common chat templates, besides the tokenizer's own EOS;
# the target ends at the first of them after the reply, which is where llama.cpp stops.
END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>", "<|endoftext|>", "</s>")


def resolve_base(base: str) -> tuple[Path, str]:
    """``default``, a Hugging Face model folder or a GGUF file -> (absolute path, kind)."""
    path = gguf_io.resolve_base(base)
    return path, "hf" if path.is_dir() else "gguf"


def load_tokenizer(base: str) -> tuple[Any, int]:
    """The base's tokenizer with its chat template, and its context length (for prepare)."""
    path, kind = resolve_base(base)
    from transformers import AutoConfig, AutoTokenizer

    if kind == "hf":
        tokenizer = gguf_io.load_folder_tokenizer(path)
        config = AutoConfig.from_pretrained(path)
        max_len = int(getattr(config, "max_position_embeddings", 0) or 2048)
    else:
        from teachbot_tui.gguf_info import read_info

        info = read_info(path)
        tokenizer = AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
        tokenizer.chat_template = info.chat_template or tokenizer.chat_template
        max_len = info.context_length or 2048
    if not tokenizer.chat_template:
        raise TrainerError(f"{path}: the model has no chat template; use an instruct/chat model")
    return tokenizer, max_len


def with_system(messages: list[dict[str, str]], system_prompt: str) -> list[dict[str, str]]:
    if messages[0]["role"] == "system":
        return messages
    return [{"role": "system", "content": system_prompt}, *messages]


def fold_system(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """The system message put before the first user message, as templates of families
    without a system role do it themselves (Gemma 3, Mistral): ``SYSTEM\n\nUSER``."""
    if not messages or messages[0]["role"] != "system":
        return messages
    system, rest = messages[0]["content"], [dict(m) for m in messages[1:]]
    for m in rest:
        if m["role"] == "user":
            m["content"] = f"{system}\n\n{m['content']}"
            break
    return rest


def render_chat(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """``messages`` in the tokenizer's chat template. A template that refuses a system message
    (Gemma 2 raises) gets it folded into the first user turn instead."""
    try:
        return tokenizer.apply_chat_template(messages, tokenize=False,
                                             add_generation_prompt=add_generation_prompt)
    except Exception as exc:
        if messages[0]["role"] != "system":
            raise TrainerError(f"the chat template cannot format these messages ({exc})") from None
    return tokenizer.apply_chat_template(fold_system(messages), tokenize=False,
                                         add_generation_prompt=add_generation_prompt)


def end_of_turn_tokens(tokenizer: Any) -> list[str]:
    """Tokens that can end a reply: the tokenizer's EOS and the common end-of-turn markers."""
    return [t for t in (tokenizer.eos_token, *END_OF_TURN) if t]


def prompt_and_target_ids(
    tokenizer: Any, messages: list[dict[str, str]], system_prompt: str
) -> tuple[list[int], list[int]]:
    """Token ids of the prompt (what llama.cpp feeds the model) and of the target reply
    (what the model should then generate, ending with the end-of-turn token)."""
    messages = with_system(messages, system_prompt)
    prompt = render_chat(tokenizer, messages[:-1], add_generation_prompt=True)
    full = render_chat(tokenizer, messages, add_generation_prompt=False)
    if not full.startswith(prompt):
        raise TrainerError("the chat template formats a reply differently from a prompt; "
                           "this model's template cannot be trained on")
    target = full[len(prompt):]
    start = max(0, target.find(messages[-1]["content"].strip()))  # an EOT before the reply
    ends = [(at, eot) for eot in end_of_turn_tokens(tokenizer)      # (a thinking block) is kept
            if (at := target.find(eot, start)) >= 0]
    if ends:  # the first marker after the reply: Phi-3's <|end|> comes before its EOS
        at, eot = min(ends)
        target = target[: at + len(eot)]
    else:
        target = target.rstrip() + (tokenizer.eos_token or "")
    # One tokenization of the whole text, split where the prompt's own tokens end: encoding the
    # reply alone would give SentencePiece tokenizers with a dummy prefix (Llama 2, Mistral,
    # Phi-3) a space token that the model never sees there.
    encode = lambda text: tokenizer(text, add_special_tokens=False)["input_ids"]  # noqa: E731
    prompt_ids, ids = encode(prompt), encode(prompt + target)
    n = next((i for i, (a, b) in enumerate(zip(prompt_ids, ids, strict=False)) if a != b),
             min(len(prompt_ids), len(ids)))
    return ids[:n], ids[n:]
