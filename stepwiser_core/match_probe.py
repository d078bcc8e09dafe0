"""Does a judge compare, or does it have a prior? A probe of the one decision in a "lines" analysis that the
verdict follows: the "Match: yes|no" written under a redone line and a quoted line.

Every judge is given the *same* analyses (fixed texts, e.g. the zero-shot judge's greedy outputs on the
benchmark's steps), cut right after each `Match:`, and asked by teacher forcing how likely it is to continue with
" yes" rather than " no". Where the two lines above are identical the right answer is yes, where they differ it is
no. So, per judge:

- `p_yes_identical` should be near 1 and `p_yes_different` near 0; their difference, `margin`, is how much the
  decision depends on the comparison;
- a training that sharpens the comparison widens the margin; a training that moves a prior shifts both
  probabilities the same way and leaves the margin where it was.

Because the lines are held fixed, a change in the redo or the quote (which the judge's own outputs would show)
cannot enter this number. Used by `tools/match_probe.py` (docs/judge_study.md, "The mechanism, measured directly").
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from .faithfulness import lines_blocks

__all__ = ["MATCH_PROBE_COLUMNS", "match_probe_table", "match_sites", "match_yes_probabilities"]

MATCH = "Match:"


def match_sites(output: str) -> list[tuple[int, bool]]:
    """Where the judge decides: the character offset right after each `Match:` of a "lines" analysis, with
    whether the two lines above it are identical. `Chunk: none` blocks (nothing compared) and outputs that are not
    readable "lines" analyses give no sites.

    Example:
        >>> out = "Analysis: Redo: First, 4 more arrive.\\n3+4=7\\nChunk: 3+4=8\\nMatch: no.\\nFinal Judgment: x"
        >>> [(out[:i][-6:], same) for i, same in match_sites(out)]
        [('Match:', False)]
    """
    blocks = lines_blocks(output)
    if blocks is None:
        return []
    analysis_end = output.find("Final Judgment")
    offsets, start = [], 0
    while (i := output.find(MATCH, start)) >= 0 and (analysis_end < 0 or i < analysis_end):
        offsets.append(i + len(MATCH))
        start = i + 1
    if len(offsets) != len(blocks):  # a "Match:" inside a line: not the analysis the blocks describe
        return []
    return [(at, redo == quote) for at, (redo, quote, _) in zip(offsets, blocks) if redo is not None]


@torch.no_grad()
def _continuation_logprobs(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, texts: Sequence[str],
                           prefix_lengths: Sequence[int], batch_size: int) -> list[float]:
    """Sum of the log-probabilities of each text's tokens after its first `prefix_lengths[i]` tokens."""
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    out: list[float] = []
    pad = tokenizer.pad_token_id
    for b in range(0, len(ids), batch_size):
        batch = ids[b:b + batch_size]
        width = max(len(x) for x in batch)
        x = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros((len(batch), width), dtype=torch.long)
        for r, seq in enumerate(batch):  # right padding: positions are those of an unpadded sequence
            x[r, :len(seq)], mask[r, :len(seq)] = torch.tensor(seq), 1
        logits = model(input_ids=x.to(model.device), attention_mask=mask.to(model.device)).logits.cpu()
        for r, seq in enumerate(batch):  # normalise only the positions that predict the continuation
            k = prefix_lengths[b + r]
            logp = torch.log_softmax(logits[r, k - 1:len(seq) - 1].float(), dim=-1)
            out.append(float(logp.gather(1, torch.tensor(seq[k:])[:, None]).sum()))
    return out


def match_yes_probabilities(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                            outputs: Sequence[str], batch_size: int = 32) -> list[dict]:
    """One row per Match site of each (prompt, output): `item`, `site`, `identical` and `p_yes` = P(" yes") /
    (P(" yes") + P(" no")) under `model`, teacher-forced on the output up to the site. The tokenizer must be the
    judge's own; the prefix is tokenised alone, so " yes" / " no" are scored as separate words (the byte-level
    pre-tokeniser splits before a space, so this is how the judge itself tokenises them)."""
    if len(prompts) != len(outputs):
        raise ValueError(f"{len(prompts)} prompts but {len(outputs)} outputs")
    sites = [(k, j, at, same) for k, out in enumerate(outputs) for j, (at, same) in enumerate(match_sites(out))]
    texts, prefix_lengths = [], []
    for k, _, at, _ in sites:
        prefix = prompts[k] + outputs[k][:at]
        n = len(tokenizer(prefix, add_special_tokens=False)["input_ids"])
        texts += [prefix + " yes", prefix + " no"]
        prefix_lengths += [n, n]
    model.eval()
    lp = _continuation_logprobs(model, tokenizer, texts, prefix_lengths, batch_size)
    rows = []
    for s, (k, j, _, same) in enumerate(sites):
        yes, no = lp[2 * s], lp[2 * s + 1]
        rows.append({"item": k, "site": j, "identical": same, "p_yes": 1.0 / (1.0 + math.exp(no - yes))})
    return rows


MATCH_PROBE_COLUMNS = ["judge", "n_identical", "p_yes_identical", "n_different", "p_yes_different", "margin"]


def match_probe_table(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Per judge (rows carry a `judge` column): mean P(yes) where the lines are identical and where they differ,
    and `margin` = the first minus the second. NaN where a judge has no site of a kind."""
    df = pd.DataFrame(list(rows))
    out = []
    for judge, g in (df.groupby("judge", sort=False) if len(df) else []):
        same, diff = g.loc[g["identical"], "p_yes"], g.loc[~g["identical"].astype(bool), "p_yes"]
        p_same = float(same.mean()) if len(same) else float("nan")
        p_diff = float(diff.mean()) if len(diff) else float("nan")
        out.append({"judge": judge, "n_identical": len(same), "p_yes_identical": p_same, "n_different": len(diff),
                    "p_yes_different": p_diff, "margin": p_same - p_diff})
    return pd.DataFrame(out, columns=MATCH_PROBE_COLUMNS)
