"""The toy tier's tokenizer, built in code: byte-level BPE (GPT-2 style pre-tokenisation).

Byte-level BPE round-trips any text (garbage included). The toy world's numbers are small (≤ 19), so
BPE learns most of them as whole tokens, with and without their leading space (" 5", "12"; with a
512-token vocabulary a few, such as "11", stay two digits). That matters for a
small model: copying an operand becomes the classic two-token induction pattern ("Second" "," → " 5"),
which it learns in minutes, where per-digit tokens plus a separate space token needed a three-token
match it had not learned after 800 steps (see docs/results.md, "Calibrating the toy world"). The vocabulary is
learned from a deterministic corpus of toy-world text, so it is the same on every machine. The chat format copies Qwen's ChatML
(`<|im_start|>user ... <|im_end|>`), so toy and paper tiers format prompts with the same code.

Load a saved tokenizer with `load_tokenizer`, never `AutoTokenizer`: next to a Qwen2 `config.json`,
`AutoTokenizer` swaps in `Qwen2Tokenizer`, which silently changes the tokenisation
(reference/ecosystem.md §3).
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

PAD, EOS, IM_START = "<|endoftext|>", "<|im_end|>", "<|im_start|>"
CHUNK_OPEN, CHUNK_CLOSE = "<chunk>", "</chunk>"
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def build_tokenizer(corpus: Iterable[str], vocab_size: int = 512) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE on `corpus` (deterministic for a given corpus) and wrap it for transformers."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[PAD, EOS, IM_START],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    hf = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, eos_token=EOS)
    # Chunk tags are ordinary text to the model (it must learn to write them), but one token each.
    hf.add_tokens([CHUNK_OPEN, CHUNK_CLOSE])
    hf.chat_template = CHAT_TEMPLATE
    hf.padding_side = "left"  # decoder-only generation pads on the left
    return hf


def load_tokenizer(path: str | Path) -> PreTrainedTokenizerFast:
    """Load the tokenizer saved beside a model (see the module docstring for why not AutoTokenizer)."""
    tok = PreTrainedTokenizerFast.from_pretrained(str(path))
    tok.padding_side = "left"
    if tok.pad_token is None:  # instruct checkpoints such as Qwen2.5 ship without a pad token
        tok.pad_token = tok.eos_token
    return tok
