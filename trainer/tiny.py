"""Tiny random Hugging Face models of each common family, for tests, benchmarks and trials.

``make_tiny_model(family, dir)`` writes ``config.json``, ``model.safetensors``, a SentencePiece
tokenizer (``tokenizer.model`` plus the ``tokenizer.json`` transformers builds from it) with the
family's chat special tokens, and the family's chat template, in a second or two. The weights
are random but seeded. llama.cpp's converter accepts every one of them: SentencePiece
vocabularies need no pre-tokenizer hash (a tiny byte-level BPE vocabulary would never match the
hashes it knows). Nothing is downloaded. The CLI is ``scripts/make_tiny_model.py``.
"""

from __future__ import annotations

import io
import json
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from teachbot_tui import offline

# Chat templates in the shape of each family's real one (the parts that matter for training:
# role markers, where the reply ends, what happens to a system message).
CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
LLAMA3 = (
    "{{ bos_token }}{% for message in messages %}"
    "{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    " + message['content'] | trim + '<|eot_id|>' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# Mistral-Instruct: no system turn; the system text goes before the first user message.
MISTRAL = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set system = messages[0]['content'] + '\n\n' %}{% set loop_messages = messages[1:] %}"
    "{% else %}{% set system = '' %}{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}{% if message['role'] == 'user' %}"
    "{{ '[INST] ' + (system if loop.first else '') + message['content'] + ' [/INST]' }}"
    "{% else %}{{ ' ' + message['content'] + eos_token }}{% endif %}{% endfor %}"
)
# Gemma 2 refuses a system message (as the real template does); teachbot folds it in.
GEMMA2 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if message['role'] == 'assistant' %}{% set role = 'model' %}"
    "{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] | trim + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
# Gemma 3 folds the system message into the first user turn itself.
GEMMA3 = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}"
    "{% set first_user_prefix = messages[0]['content'] + '\n\n' %}"
    "{% set loop_messages = messages[1:] %}{% else %}{% set first_user_prefix = '' %}"
    "{% set loop_messages = messages %}{% endif %}"
    "{% for message in loop_messages %}{% if message['role'] == 'assistant' %}"
    "{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\n' + (first_user_prefix if loop.first else '')"
    " + message['content'] | trim + '<end_of_turn>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
PHI3 = (
    "{% for message in messages %}"
    "{{ '<|' + message['role'] + '|>\n' + message['content'] + '<|end|>\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% else %}{{ eos_token }}{% endif %}"
)


@dataclass(frozen=True)
class Family:
    """What a tiny model of one family needs: transformers classes, tokens, template."""

    config_class: str
    model_class: str
    template: str
    end_of_turn: str  # the token a reply ends with (what the loss mask ends at)
    bos: str
    eos: str
    specials: tuple[str, ...]  # chat control tokens besides bos/eos/unk
    config: dict[str, Any] = field(default_factory=dict)
    # llama.cpp puts a space before text at the start and after each special token unless the
    # converter writes add_space_prefix=false (it does for llama, mistral and gemma only); the
    # tokenizer is made to do the same (SentencePiece's dummy prefix, Metaspace "always").
    space_prefix: bool = False
    # Special tokens that swallow the whitespace after them (llama.cpp does this for Phi-3).
    rstrip: tuple[str, ...] = ()


_GQA = {"num_attention_heads": 4, "num_key_value_heads": 2}

FAMILIES: dict[str, Family] = {
    "llama": Family("LlamaConfig", "LlamaForCausalLM", LLAMA3, "<|eot_id|>",
                    "<|begin_of_text|>", "<|eot_id|>",
                    ("<|start_header_id|>", "<|end_header_id|>"), {**_GQA}),
    "mistral": Family("MistralConfig", "MistralForCausalLM", MISTRAL, "</s>", "<s>", "</s>",
                      ("[INST]", "[/INST]"), {**_GQA, "sliding_window": None}),
    "qwen2": Family("Qwen2Config", "Qwen2ForCausalLM", CHATML, "<|im_end|>", "<|endoftext|>",
                    "<|im_end|>", ("<|im_start|>",), {**_GQA, "tie_word_embeddings": True},
                    space_prefix=True),
    "qwen3": Family("Qwen3Config", "Qwen3ForCausalLM", CHATML, "<|im_end|>", "<|endoftext|>",
                    "<|im_end|>", ("<|im_start|>",),
                    {**_GQA, "head_dim": 16, "tie_word_embeddings": True}, space_prefix=True),
    "gemma2": Family("Gemma2Config", "Gemma2ForCausalLM", GEMMA2, "<end_of_turn>", "<bos>",
                     "<end_of_turn>", ("<start_of_turn>",),
                     {**_GQA, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 256,
                      "hidden_activation": "gelu_pytorch_tanh", "tie_word_embeddings": True}),
    "gemma3": Family("Gemma3TextConfig", "Gemma3ForCausalLM", GEMMA3, "<end_of_turn>", "<bos>",
                     "<end_of_turn>", ("<start_of_turn>",),
                     {**_GQA, "head_dim": 16, "query_pre_attn_scalar": 16, "sliding_window": 256,
                      "tie_word_embeddings": True}),
    # Phi-3's EOS is <|endoftext|>; a reply ends at <|end|> (the mask must stop there).
    "phi3": Family("Phi3Config", "Phi3ForCausalLM", PHI3, "<|end|>", "<s>", "<|endoftext|>",
                   ("<|system|>", "<|user|>", "<|assistant|>", "<|end|>"),
                   {"num_attention_heads": 4, "num_key_value_heads": 4,
                    "original_max_position_embeddings": 2048}, space_prefix=True,
                   rstrip=("<|system|>", "<|user|>", "<|assistant|>", "<|end|>", "</s>")),
}

_CORPUS = [
    "The teacher asked the class to read the first chapter before Monday.",
    "Students who finish early can help a partner check their answers.",
    "A good lesson starts with a clear goal and ends with a quick check.",
    "Fractions, decimals and percentages are three ways to write the same number.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Which strategy helped you most today? Explain why in two or three lines.",
    "The bell rings at 8:45, lunch is at 12:10 and school ends at 15:30.",
    "Group work goes better when every member has a named role.",
    "Use exit tickets to see who understood and who needs another example.",
    "system user assistant model: You are a helpful coach for teachers.",
    "Don't panic; it's fine. We'll try again, I'm sure you'll get it.",
    string.ascii_letters + string.digits + string.punctuation,
]


def _sentencepiece(family: Family, vocab_size: int) -> bytes:
    """A byte-fallback SentencePiece BPE model with the family's special tokens."""
    import sentencepiece as spm

    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(_CORPUS * 8), model_writer=buf, vocab_size=vocab_size,
        model_type="bpe", byte_fallback=True, add_dummy_prefix=family.space_prefix,
        normalization_rule_name="identity", remove_extra_whitespaces=False, split_digits=True,
        allow_whitespace_only_pieces=True, character_coverage=1.0, hard_vocab_limit=False,
        user_defined_symbols=list(family.specials) + ([family.eos] if family.eos != "</s>" else []),
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, unk_piece="<unk>", bos_piece=family.bos,
        eos_piece="</s>", minloglevel=2, num_threads=1,
    )
    return buf.getvalue()


def _write_added_tokens_decoder(out: Path, rstrip: tuple[str, ...]) -> None:
    """Record the special tokens in tokenizer_config.json the way Hub models do
    (``added_tokens_decoder``): llama.cpp's converter reads their types from there."""
    tok_path = out / "tokenizer.json"
    tok = json.loads(tok_path.read_text(encoding="utf-8"))
    added = tok["added_tokens"]
    for t in added:
        t["rstrip"] = t["content"] in rstrip
    tok_path.write_text(json.dumps(tok, ensure_ascii=False), encoding="utf-8")
    path = out / "tokenizer_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["added_tokens_decoder"] = {
        str(t["id"]): {k: t[k] for k in ("content", "lstrip", "normalized", "rstrip",
                                         "single_word", "special")}
        for t in added
    }
    path.write_text(json.dumps(config, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def make_tiny_model(
    family: str,
    dir: str | Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    num_hidden_layers: int = 2,
    vocab_size: int = 512,
    initializer_range: float = 0.1,
    **config: Any,
) -> Path:
    """Write a tiny random model of ``family`` (see FAMILIES) to ``dir``; return the folder.

    Keyword arguments beyond the named ones go to the family's transformers config (e.g.
    ``num_attention_heads``), so larger shapes can be built the same way.
    ``initializer_range`` is larger than a real model's so the random logits are not all ties.
    """
    offline.enforce()
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; pick one of {', '.join(FAMILIES)}")
    import torch
    import transformers
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    fam = FAMILIES[family]
    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)
    for stale in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json",
                  "added_tokens.json", "chat_template.jinja"):
        (out / stale).unlink(missing_ok=True)  # transformers would read them, not the new model
    (out / "tokenizer.model").write_bytes(_sentencepiece(fam, vocab_size))
    specials = [t for t in (*fam.specials, fam.eos) if t not in ("</s>",)]
    (out / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "LlamaTokenizer", "add_prefix_space": fam.space_prefix,
        "legacy": fam.space_prefix,
        "bos_token": fam.bos, "eos_token": fam.eos, "unk_token": "<unk>",
        "pad_token": "<unk>", "add_bos_token": False, "add_eos_token": False,
        "additional_special_tokens": sorted(set(specials)),
    }), encoding="utf-8")
    tokenizer = AutoTokenizer.from_pretrained(out)
    tokenizer.chat_template = fam.template
    tokenizer.save_pretrained(out)
    _write_added_tokens_decoder(out, fam.rstrip)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(out)
    vocab = len(tokenizer)

    options: dict[str, Any] = dict(
        vocab_size=vocab, hidden_size=hidden_size, intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers, max_position_embeddings=2048, rms_norm_eps=1e-6,
        rope_theta=10000.0, initializer_range=initializer_range,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=False,
    )
    options.update(fam.config)
    options.update(config)
    cfg = getattr(transformers, fam.config_class)(**options)
    cfg.architectures = [fam.model_class]
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = getattr(transformers, fam.model_class)(cfg)
        # Norm weights start at exactly 1.0 (or 0.0); jitter them so a mix-up of norms shows.
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim == 1:
                    p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out)
    return out
