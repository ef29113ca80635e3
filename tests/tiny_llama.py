"""A tiny random llama with a byte-level BPE tokenizer of its own, as a Hugging Face folder.

The trainer's tests use trainer/tiny.py (one tiny model per family, with tokenizers llama.cpp's
converter accepts). This one is kept for the opposite case: its BPE vocabulary, trained here on
a few sentences, splits text in a way llama.cpp's converter does not recognize, so exporting it
must fail with one clear line. Seeded, offline, about a second.
"""

from __future__ import annotations

from pathlib import Path

from teachbot_tui import offline

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)

SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

_CORPUS = [
    "The teacher asked the class to read the first chapter before Monday.",
    "Students who finish early can help a partner check their answers.",
    "A good lesson starts with a clear goal and ends with a quick check.",
    "Fractions, decimals and percentages are three ways to write the same number.",
    "Photosynthesis turns light, water and carbon dioxide into sugar and oxygen.",
    "Write the date, then copy the question, then answer it in full sentences.",
    "Which strategy helped you most today? Explain why in two or three lines.",
    "The bell rings at 8:45, lunch is at 12:10 and school ends at 15:30.",
    "Group work goes better when every member has a named role.",
    "Use exit tickets to see who understood and who needs another example.",
    "system user assistant: You are a helpful coach for teachers.",
    "What is 12 + 30? It is 42. What is 7 x 8? It is 56.",
    "Don't panic; it's fine. We'll try again, I'm sure you'll get it.",
]


def _train_tokenizer(vocab_size: int):  # type: ignore[no-untyped-def]
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS * 4, trainer=trainer)
    return tok


def make_tiny_llama(
    dir: str | Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    intermediate_size: int = 128,
    num_hidden_layers: int = 2,
    num_attention_heads: int = 4,
    num_key_value_heads: int = 2,
    vocab_size: int = 384,
    tie_word_embeddings: bool = False,
    initializer_range: float = 0.1,
) -> Path:
    """Write a tiny random LlamaForCausalLM with its tokenizer to ``dir``; return the folder.

    Grouped-query attention (2 key/value heads for 4 query heads) is on by default so that
    exporters exercise the q/k permutation for both shapes. ``initializer_range`` is larger
    than a real model's so the random logits are not all ties.
    """
    offline.enforce()
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    out = Path(dir)
    out.mkdir(parents=True, exist_ok=True)

    backend = _train_tokenizer(vocab_size)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        bos_token="<|endoftext|>",
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        unk_token="<|endoftext|>",
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=intermediate_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        num_key_value_heads=num_key_value_heads,
        max_position_embeddings=512,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=tie_word_embeddings,
        initializer_range=initializer_range,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
        # Norm weights start at exactly 1.0; jitter them so a mix-up of norms shows.
        with torch.no_grad():
            for p in model.parameters():
                if p.ndim == 1:
                    p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(out)
    return out
