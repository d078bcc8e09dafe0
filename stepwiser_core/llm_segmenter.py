"""The paper tier's segmenter: an instruct LLM asked to wrap each logical step in `<chunk>` tags (paper §3.1, §4.1).

The paper prompts Llama-3.1-70B-it with its Table 1 rules, makes 8 segmentations per correct response, and keeps
only those that follow the format and reconstruct the response exactly (`segmentation.check_attempt`). On the toy
tier, `segmentation.teacher_segment` stands in for the LLM; here the LLM itself is sampled through any generation
backend (`backends.open_backend`: our engine, or vLLM with `vllm_tensor_parallel_size` GPUs for a 70B model).

The prompt is our paraphrase of Table 1 (reference/paper.md §1): the paper prints the rules, not a verbatim prompt.
How the 8 attempts are drawn is NOT SPECIFIED; we sample them at `temperature` with seeds spaced apart, so that they
differ and the majority vote of `segmentation.select_segmentation` has something to choose from.
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import PreTrainedTokenizerBase

from .generation import Generator, Sampling, chat_prompt

# [P Table 1], paraphrased: the principles, the format, and the response to segment.
SEGMENTER_INSTRUCTIONS = """\
Segment the solution below into chunks. Each chunk is one logically complete step of the reasoning.

Principles:
1. Unified purpose: a chunk serves one clear objective, such as setting up an equation, one self-contained \
calculation, or stating an intermediate or final conclusion. Everything in the chunk serves that goal.
2. Logical cohesion: the lines of a chunk form one continuous, uninterrupted line of reasoning. Start a new chunk \
as soon as the focus or purpose shifts.
3. Clear transition: start a new chunk when the solution enters a new phase (for example from solving for a \
variable to verifying the answer), or when an explanatory side note is inserted.

Format:
1. Wrap each segment in <chunk> and </chunk>. Do not alter any text or newline inside the tags.
2. Output only the tagged content: no extra text, titles or blank lines.
3. Preserve all original text and newlines exactly.

Solution:
{response}"""


def segmenter_prompt(response: str) -> str:
    """The user message asking the segmenter to chunk `response` (Table 1's rules, paraphrased)."""
    return SEGMENTER_INSTRUCTIONS.format(response=response)


def llm_segment_attempts(generator: Generator, tokenizer: PreTrainedTokenizerBase, responses: Sequence[str],
                         n_attempts: int, sampling: Sampling) -> list[list[str]]:
    """`n_attempts` tagged segmentations of each response, sampled from the segmenter behind `generator`.

    Args:
        generator: any backend with `generate(prompts, sampling)` (the segmenter LLM loaded in it).
        tokenizer: the segmenter's tokenizer, for its chat template.
        responses: the policy responses to segment.
        n_attempts: segmentations per response ([P §4.1] 8).
        sampling: decoding settings; its `n` is replaced by `n_attempts`.

    Returns:
        Per response, the raw texts of its attempts, for `segmentation.select_segmentation` to filter and vote on.
    """
    if n_attempts < 1:
        raise ValueError(f"n_attempts must be >= 1, not {n_attempts}")
    if not responses:
        return []
    prompts = [chat_prompt(tokenizer, segmenter_prompt(r)) for r in responses]
    settings = Sampling(sampling.max_new_tokens, sampling.temperature, n_attempts, sampling.seed)
    attempts = generator.generate(prompts, settings)
    if len(attempts) != len(responses) or any(len(a) != n_attempts for a in attempts):
        raise RuntimeError(f"the segmenter returned {[len(a) for a in attempts]} attempts for {len(responses)} "
                           f"responses; expected {n_attempts} each")
    return [list(a) for a in attempts]


def segment_with_model(model_dir: str | Path, settings, responses: Sequence[str], n_attempts: int,
                       sampling: Sampling) -> list[list[str]]:
    """`llm_segment_attempts` with the segmenter in `model_dir`, opened on the backend `settings` names
    (`backends.BackendSettings`) and closed afterwards, so that its memory is free before the policy trains."""
    from .backends import close_backend, open_backend

    segmenter = open_backend(model_dir, settings, "segmenter")
    try:
        return llm_segment_attempts(segmenter, segmenter.tokenizer, responses, n_attempts, sampling)
    finally:
        close_backend(segmenter)
