"""Chunk-reset search: rejected chunks are redrawn from the same prefix, counted, and kept after the last attempt."""
import math

import pytest

from stepwiser_core.generation import chat_prompt
from stepwiser_core.judges import JudgeQuery
from stepwiser_core.rollouts import RolloutEngine
from stepwiser_core.search import (EngineChunkSampler, ExactChunkJudge, SearchSettings, chunk_reset, chunk_text,
                                   pooled_versus, round_seed, seed_table)
from stepwiser_core.world.checker import check_steps
from stepwiser_core.world.problems import Operation, Problem

# Ann has 7; +5 -> 12; *3 -> 36; -4 -> 32.
PROBLEM = Problem("t-0", 1, "Ann", "coins", 7, (Operation("add", 5), Operation("mul", 3), Operation("sub", 4)),
                  (), "Ann has 7 coins. Then 5 more arrive, ...")
RIGHT = ["Ann has 7 coins.\nFirst, 5 more arrive.\n\n7+5=12", "Second, 3 times as many coins.\n12*3=36",
         "Third, 4 are given away.\n\n36-4=32", "The answer is \\boxed{32}."]
SLIP = "Second, 3 times as many coins.\n12*3=35"


class ScriptedEngine:
    """Stands in for `RolloutEngine`: hands out scripted continuations, one per request and prefix, in order, as
    token ids (with eos where the script ends the turn); records the seeds it was given."""

    def __init__(self, tokenizer, script):
        self.tokenizer, self.script, self.seeds = tokenizer, {p: list(d) for p, d in script.items()}, []

    def rollout_ids(self, prefixes, m, sampling, stop_ids=()):
        assert m == 1 and list(stop_ids) == [self.tokenizer.convert_tokens_to_ids("</chunk>")]
        self.seeds.append(sampling.seed)
        out = []
        for prefix in prefixes:
            text, ends = self.script[next(p for p in self.script if prefix.startswith(p))].pop(0)
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            out.append([ids + [self.tokenizer.eos_token_id] if ends else ids])
        return out


def draws(*chunks, last_ends=True):
    """Continuations as the chunk policy writes them: the first chunk right after the prompt, then a newline each."""
    out = [(("" if i == 0 else "\n") + f"<chunk>{c}</chunk>", False) for i, c in enumerate(chunks)]
    out[-1] = (out[-1][0], last_ends)
    return out


def search(tok, script_draws, judge, **settings):
    prompt = chat_prompt(tok, PROBLEM.text)
    engine = ScriptedEngine(tok, {prompt: script_draws})
    states = chunk_reset(EngineChunkSampler(engine, tok), [PROBLEM.text], [prompt], judge, SearchSettings(**settings))
    return states[0], engine


def n_tokens(tok, text):
    return len(tok(text, add_special_tokens=False)["input_ids"])


def test_a_rejected_chunk_is_redrawn_and_its_tokens_counted_as_rejected(toy_tokenizer):
    tok = toy_tokenizer
    script = draws(RIGHT[0], SLIP, RIGHT[1], RIGHT[2], RIGHT[3])
    state, engine = search(tok, script, ExactChunkJudge([PROBLEM]))
    assert state.accepted == RIGHT and state.finished and not state.stopped
    assert check_steps(PROBLEM, state.accepted).correct
    assert (state.rejected_chunks, state.exhausted) == (1, 0)
    assert state.rejected_tokens == n_tokens(tok, script[1][0])
    assert state.accepted_tokens == sum(n_tokens(tok, t) for t, _ in script) - state.rejected_tokens + 1  # + eos
    assert state.text == "".join(t for k, (t, _) in enumerate(script) if k != 1)
    assert len(set(engine.seeds)) == len(engine.seeds) == 5  # one round a draw, each its own seed


def test_without_a_judge_every_chunk_is_accepted(toy_tokenizer):
    state, _ = search(toy_tokenizer, draws(RIGHT[0], SLIP, "Third, 4 are given away.\n\n35-4=31",
                                           "The answer is \\boxed{31}."), None)
    assert state.accepted[1] == SLIP and state.rejected_chunks == 0 and state.finished
    assert not check_steps(PROBLEM, state.accepted).correct


def test_the_last_attempt_is_kept_when_every_attempt_is_rejected(toy_tokenizer):
    slips = [SLIP, "Second, 3 times as many coins.\n12*3=37"]
    script = draws(RIGHT[0], *slips, "Third, 4 are given away.\n\n37-4=33", "The answer is \\boxed{33}.")
    state, _ = search(toy_tokenizer, script, ExactChunkJudge([PROBLEM]), max_attempts=2)
    assert state.accepted[1] == slips[1] and (state.rejected_chunks, state.exhausted) == (1, 1)
    assert state.finished  # after a kept wrong chunk, the checker passes every later chunk


def test_unparseable_verdicts_reject_and_eos_alone_ends_the_response(toy_tokenizer):
    class Unsure:
        def __init__(self):
            self.calls = 0

        def judge(self, items):
            self.calls += len(items)
            return [[None] if self.calls % 2 else [True] for _ in items]  # None on odd calls

    script = draws(RIGHT[0], RIGHT[0], last_ends=False) + [("", True)]
    state, _ = search(toy_tokenizer, script, Unsure())
    assert state.accepted == [RIGHT[0]] and state.rejected_chunks == 1 and state.finished


def test_a_search_stops_unfinished_after_max_chunks(toy_tokenizer):
    state, _ = search(toy_tokenizer, draws(*RIGHT, last_ends=False), None, max_chunks=2)
    assert state.accepted == RIGHT[:2] and state.stopped and not state.finished


def test_exact_chunk_judge_and_helpers():
    judge = ExactChunkJudge([PROBLEM])
    assert judge.judge([JudgeQuery(PROBLEM.text, (RIGHT[0],), RIGHT[1]),
                        JudgeQuery(PROBLEM.text, (RIGHT[0],), SLIP),
                        JudgeQuery(PROBLEM.text, (RIGHT[0], SLIP), "Third, 4 are given away.\n\n35-4=31")]) == \
        [[True], [False], [True]]
    with pytest.raises(KeyError):
        judge.judge([JudgeQuery("another problem", (), RIGHT[0])])
    assert chunk_text("\n<chunk>a\nb</chunk>") == "a\nb" and chunk_text("\n") == ""
    assert round_seed(0, 1) != round_seed(0, 2) and round_seed(0, 1) == round_seed(0, 1) != round_seed(1, 1)
    with pytest.raises(ValueError):
        SearchSettings(max_attempts=0)


def test_on_the_engine_a_search_is_reproducible_and_bounded(tiny_model, toy_tokenizer):
    tok = toy_tokenizer
    texts = [PROBLEM.text, PROBLEM.text + " "]
    prompts = [chat_prompt(tok, t) for t in texts]
    settings = SearchSettings(max_attempts=2, max_chunks=3, max_chunk_tokens=6, seed=1)

    def run(seed, judge=None):
        sampler = EngineChunkSampler(RolloutEngine(tiny_model, tok, progress=False), tok)
        return chunk_reset(sampler, texts, prompts, judge, SearchSettings(**{**settings.__dict__, "seed": seed}))

    def summary(states):
        return [(s.text, s.accepted_tokens, s.rejected_tokens, s.finished, s.stopped) for s in states]

    first = summary(run(1))
    assert first == summary(run(1)) and first != summary(run(2))
    for text, tokens, rejected, finished, stopped in first:
        assert (finished or stopped) and rejected == 0
        assert tokens <= settings.max_chunks * settings.max_chunk_tokens
    # an untrained model writes garbage: the checker rejects the first chunk, the second attempt is kept, and
    # after that wrong history every chunk passes
    judged = run(1, ExactChunkJudge([PROBLEM, Problem(**{**PROBLEM.__dict__, "text": texts[1]})]))
    assert all(s.exhausted == 1 and s.rejected_chunks == 1 and s.rejected_tokens > 0 for s in judged)
    with pytest.raises(ValueError, match="prompts"):
        chunk_reset(EngineChunkSampler(RolloutEngine(tiny_model, tok, progress=False), tok), ["a"], [], None, settings)


def test_search_rows_and_summary_by_hand(toy_tokenizer):
    import pandas as pd

    from stepwiser_core.search import SearchState, search_rows, search_summary

    right = SearchState(PROBLEM.text, "", accepted=list(RIGHT), text="\\boxed{32}", accepted_tokens=40,
                        finished=True)
    wrong = SearchState(PROBLEM.text, "", accepted=[RIGHT[0], SLIP], text="\\boxed{35}", accepted_tokens=30,
                        rejected_tokens=10, rejected_chunks=1, exhausted=1, finished=True)
    rows = search_rows("j", [right, wrong], [PROBLEM, PROBLEM], lambda text, gold: gold in text)
    assert [(r["correct"], r["no_wrong_step"], r["chunks"]) for r in rows] == [(True, True, 4), (False, False, 2)]
    with pytest.raises(ValueError):
        search_rows("j", [right], [], lambda t, g: True)
    # two problems: the judge solves p1 twice and p2 once in two; the policy alone p1 once and p2 never
    frame = pd.DataFrame([{"judge": j, "problem_id": p, "correct": c, "no_wrong_step": c, "accepted_tokens": 10,
                           "rejected_tokens": r, "rejected_chunks": r > 0, "exhausted": 0, "finished": True}
                          for j, p, c, r in [("none", "p1", True, 0), ("none", "p1", False, 0),
                                             ("none", "p2", False, 0), ("none", "p2", False, 0),
                                             ("j", "p1", True, 4), ("j", "p1", True, 0),
                                             ("j", "p2", True, 8), ("j", "p2", False, 0)]])
    out = search_summary(frame).set_index("judge")
    assert out.loc["j", "accuracy"] == 0.75 and out.loc["none", "accuracy"] == 0.25
    assert out.loc["j", "accuracy_se"] == pytest.approx(0.25)  # per-problem means 1 and 0.5: sd 0.354, / sqrt 2
    assert out.loc["j", "vs_baseline"] == 0.5 and out.loc["j", "vs_baseline_se"] == 0.0  # +0.5 on both problems
    assert out.loc["j", "rejected_len"] == 3.0 and out.loc["none", "vs_baseline"] == 0.0


def test_the_engine_sampler_needs_a_single_chunk_close_token(tiny_model, toy_tokenizer):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.train_from_iterator(["Ann has 7 coins. </chunk>"], trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<|endoftext|>", "<|im_end|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False))
    plain = PreTrainedTokenizerFast(tokenizer_object=bpe, pad_token="<|endoftext|>", eos_token="<|im_end|>")
    assert len(plain.tokenize("</chunk>")) > 1  # spelled with several tokens, as an instruct model's tokenizer does
    with pytest.raises(ValueError, match="single </chunk> token"):
        EngineChunkSampler(RolloutEngine(tiny_model, toy_tokenizer, progress=False), plain)


class ScriptedLLM:
    """Stands in for `vllm.LLM`: answers each request with the next scripted continuation, as vLLM reports one (token
    ids that may run past the stop string, `finish_reason`, `stop_reason`); records its construction and requests."""

    made: list = []
    script: list = []

    def __init__(self, **kwargs):
        import types

        self.kwargs, self.calls = kwargs, []
        self.llm_engine = types.SimpleNamespace(engine_core=types.SimpleNamespace(shutdown=lambda: None))
        ScriptedLLM.made.append(self)

    def generate(self, requests, params, use_tqdm=True):
        import types

        self.calls.append(params)
        out = []
        for _ in requests:
            ids, reason = ScriptedLLM.script.pop(0)
            out.append(types.SimpleNamespace(outputs=[types.SimpleNamespace(
                token_ids=ids, finish_reason="stop" if reason != "length" else "length",
                stop_reason=None if reason in ("eos", "length") else reason)]))
        return out


def test_the_vllm_sampler_stops_at_the_string_and_tells_the_end_of_the_turn(monkeypatch, tmp_path, tiny_model,
                                                                              toy_tokenizer):
    import sys
    import types

    from stepwiser_core.models import save_model
    from stepwiser_core.search_stage import open_chunk_sampler
    from stepwiser_core.stages import InferenceSearchConfig

    tok = toy_tokenizer
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = ScriptedLLM, lambda **kw: types.SimpleNamespace(**kw)
    monkeypatch.setitem(sys.modules, "vllm", module)
    save_model(tiny_model, tok, tmp_path / "policy")

    def ids(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    # vLLM may hand back a last token that runs past the stop string: here a newline after the tag
    ScriptedLLM.made, ScriptedLLM.script = [], [
        (ids(f"<chunk>{RIGHT[0]}</chunk>\n"), "</chunk>"), (ids(f"<chunk>{SLIP}</chunk>"), "</chunk>"),
        (ids(f"<chunk>{RIGHT[1]}</chunk>"), "</chunk>"), (ids(f"\n<chunk>{RIGHT[2]}</chunk>"), "</chunk>"),
        (ids(f"\n<chunk>{RIGHT[3]}</chunk>") + [tok.eos_token_id], "eos")]
    cfg = InferenceSearchConfig(generation_backend="vllm", seed=3)
    sampler, backend, tokenizer = open_chunk_sampler(tmp_path / "policy", cfg)
    (llm,) = ScriptedLLM.made
    assert llm.kwargs["gpu_memory_utilization"] == cfg.policy_gpu_memory_utilization
    prompt = chat_prompt(tokenizer, PROBLEM.text)
    (state,) = chunk_reset(sampler, [PROBLEM.text], [prompt], ExactChunkJudge([PROBLEM]), SearchSettings(seed=3))
    assert state.accepted == RIGHT and state.finished and state.rejected_chunks == 1
    assert state.text.startswith(f"<chunk>{RIGHT[0]}</chunk><chunk>")  # cut at the tag: the newline dropped
    params = [p for call in llm.calls for p in call]
    assert all(p.stop == ["</chunk>"] and p.include_stop_str_in_output and p.stop_token_ids == [tok.eos_token_id]
               for p in params)
    assert len({p.seed for p in params}) == len(params)  # every draw its own stream
    with pytest.raises(ValueError, match="share one GPU"):
        InferenceSearchConfig(generation_backend="vllm", policy_gpu_memory_utilization=0.5,
                              vllm_gpu_memory_utilization=0.6)


def test_best_of_n_picks_the_highest_positive_share_and_its_references_by_hand():
    import pandas as pd

    from stepwiser_core.search import (SearchState, best_of_n_rows, best_of_n_summary, reference_rows,
                                       solution_scores)
    from stepwiser_core.verify import last_boxed

    def solution(chunks, answer):
        return SearchState(PROBLEM.text, "", accepted=list(chunks), text=f"... \\boxed{{{answer}}}", finished=True)

    # problem 1: a wrong solution, the right one, the wrong one again; problem 2: no chunks, then two right ones
    other = Problem(**{**PROBLEM.__dict__, "id": "t-1"})
    states = [solution([RIGHT[0], SLIP], 35), solution(RIGHT, 32), solution([RIGHT[0], SLIP], 35),
              solution([], 0), solution(RIGHT, 32), solution(RIGHT, 32)]
    exact = ExactChunkJudge([PROBLEM])
    scores = solution_scores(states, exact)
    assert scores == [0.5, 1.0, 0.5, 0.0, 1.0, 1.0]  # the checker rejects the slip; no chunks scores 0

    def right(text, gold):
        return last_boxed(text) == gold

    rows = best_of_n_rows("exact", states, [PROBLEM, other], 3, scores, right)
    assert [(r["selected"], r["correct"]) for r in rows] == [(1, 1.0), (1, 1.0)]  # the first of equals on problem 2
    refs = pd.DataFrame(reference_rows(states, [PROBLEM, other], 3, right, last_boxed))
    got = refs.set_index(["judge", "problem_id"])["correct"].to_dict()
    assert got[("pass@1", "t-0")] == pytest.approx(1 / 3) and got[("pass@1", "t-1")] == pytest.approx(2 / 3)
    assert got[("majority", "t-0")] == 0.0 and got[("majority", "t-1")] == 1.0  # 35 twice; 32 twice against 0
    assert got[("pass@3", "t-0")] == 1.0
    summary = best_of_n_summary(pd.concat([refs, pd.DataFrame(rows)])).set_index("judge")
    assert summary.loc["exact", "accuracy"] == 1.0 and summary.loc["exact", "vs_baseline"] == pytest.approx(0.5)
    assert summary.loc["majority", "accuracy"] == 0.5 and summary.loc["pass@1", "vs_baseline"] == 0.0
    versus = best_of_n_summary(pd.concat([refs, pd.DataFrame(rows)]), baseline="majority").set_index("judge")
    assert versus.loc["exact", "vs_baseline"] == 0.5 and versus.loc["exact", "vs_baseline_se"] == pytest.approx(0.5)
    with pytest.raises(ValueError):
        best_of_n_rows("exact", states[:5], [PROBLEM, other], 3, scores[:5], right)


def test_versus_judge_pairs_both_uses_over_problems():
    import pandas as pd

    from stepwiser_core.search import versus_judge

    def search_row(judge, problem, correct):
        return {"judge": judge, "problem_id": problem, "correct": correct, "no_wrong_step": correct,
                "accepted_tokens": 1, "rejected_tokens": 0, "rejected_chunks": 0, "exhausted": 0, "finished": True}

    rows = pd.DataFrame([search_row(j, p, c) for j, p, c in [
        ("none", "p1", False), ("none", "p2", False), ("zero_shot", "p1", True), ("zero_shot", "p2", False),
        ("trained", "p1", True), ("trained", "p2", True)]])
    best = pd.DataFrame([{"judge": j, "problem_id": p, "correct": c} for j, p, c in [
        ("pass@1", "p1", 0.5), ("pass@1", "p2", 0.5), ("zero_shot", "p1", 1.0), ("zero_shot", "p2", 0.0),
        ("trained", "p1", 0.0), ("trained", "p2", 0.0)]])
    out = versus_judge(rows, best, "zero_shot").set_index("judge")
    assert list(out.index) == ["none", "trained"]
    assert out.loc["trained", "chunk_reset"] == 0.5 and out.loc["trained", "best_of_n"] == -0.5
    assert out.loc["none", "chunk_reset"] == -0.5 and math.isnan(out.loc["none", "best_of_n"])


def test_seed_table_lines_up_judges_across_seeds():
    import pandas as pd

    s0 = pd.DataFrame({"judge": ["none", "a", "b"], "accuracy": [0.5, 0.75, 0.25]})
    s1 = pd.DataFrame({"judge": ["a", "none", "c"], "accuracy": [0.25, 0.5, 1.0]})
    out = seed_table({0: s0, 1: s1}, "accuracy")
    assert list(out["judge"]) == ["none", "a", "b", "c"]
    assert list(out["seed0"].fillna(-1)) == [0.5, 0.75, 0.25, -1]
    assert list(out["seed1"].fillna(-1)) == [0.5, 0.25, -1, 1.0]
    assert list(out["mean"]) == [0.5, 0.5, 0.25, 1.0]  # over the seeds that have the judge
    assert out["sd"].iloc[0] == 0.0 and out["sd"].iloc[1] == pytest.approx(math.sqrt(0.125))
    assert out["sd"].iloc[2:].isna().all()
    assert list(out["seeds"]) == [2, 2, 1, 1]
    assert out["se"].iloc[1] == pytest.approx(math.sqrt(0.125) / math.sqrt(2)) and out["se"].iloc[2:].isna().all()
    with pytest.raises(ValueError, match="no column"):
        seed_table({0: s0}, "f1")
    with pytest.raises(ValueError, match="twice"):
        seed_table({0: pd.concat([s0, s0])}, "accuracy")
    with pytest.raises(ValueError, match="no tables"):
        seed_table({}, "accuracy")


def test_pooled_versus_counts_each_problem_once_over_the_seeds():
    import pandas as pd

    def searches(zero_shot, judge):  # two problems, one search each of every judge
        return pd.DataFrame({"judge": ["zero_shot"] * 2 + ["a"] * 2, "problem_id": ["p", "q"] * 2,
                             "correct": zero_shot + judge, "no_wrong_step": [True] * 4, "accepted_tokens": 1,
                             "rejected_tokens": 0, "rejected_chunks": 0, "exhausted": 0, "finished": True})

    seed0, seed1 = searches([True, False], [True, True]), searches([True, True], [False, True])
    out = pooled_versus({0: seed0, 1: seed1}, "zero_shot").set_index("judge")
    assert list(out.index) == ["a"] and out.loc["a", "seeds"] == 2 and out.loc["a", "searches"] == 4
    # per problem over both seeds: p 0.5 - 1.0 = -0.5, q 1.0 - 0.5 = +0.5; so the mean 0 and the sd over the two
    # problems (not over four searches) sqrt(0.5), over sqrt(2) problems
    assert out.loc["a", "chunk_reset"] == 0.0 and out.loc["a", "problems"] == 2
    assert out.loc["a", "chunk_reset_se"] == pytest.approx(math.sqrt(0.5) / math.sqrt(2))
    with pytest.raises(ValueError, match="other judges or problems"):
        pooled_versus({0: seed0, 1: seed1[seed1["problem_id"] == "p"]}, "zero_shot")
    with pytest.raises(ValueError, match="two seeds"):
        pooled_versus({0: seed0}, "zero_shot")
    with pytest.raises(ValueError, match="no judge"):
        pooled_versus({0: seed0, 1: seed1}, "none")
