"""Judging at scale: maj@k, the generative judge on a scripted generator, first-error prediction, RS-FT filtering,
and the discriminative baseline's data format and scoring on a tiny random model."""
import pytest

from stepwiser_core.generation import Sampling, TransformersBackend
from stepwiser_core.instruct import Example
from stepwiser_core.judge import judge_prompt
from stepwiser_core.judge_eval import JudgeItem
from stepwiser_core.judges import (DIRECT_INSTRUCTION, DiscriminativeJudge, GenerativeJudge, JudgeQuery, as_query,
                                   disc_messages, disc_prompt, disc_sft_dataset, disc_sft_examples, disc_sft_train,
                                   judge_generator, judge_prompt_direct, judge_records, majority, positive_share,
                                   predict_first_error, predict_first_errors, rs_ft_examples)
from stepwiser_core.processbench import PBRecord
from stepwiser_core.rollouts import RolloutEngine
from stepwiser_core.world.problems import Operation, Problem

POS = "Analysis: fine.\nFinal Judgment: \\boxed{Positive}"
NEG = "Analysis: wrong.\nFinal Judgment: \\boxed{Negative}"
JUNK = "I cannot tell."


# ---------------------------------------------------------------- majority voting


@pytest.mark.parametrize("votes, expected", [
    ([True], True), ([False], False),
    ([True, True, False], True), ([False, False, True], False),
    ([True, False], False), ([True, True, False, False], False),  # ties are Negative
    ([True, None, None], True), ([False, None], False),  # unparseable votes abstain
    ([True, False, None], False),  # a tie among the parsed votes, whatever the abstentions
    ([None, None], None), ([], None),  # nothing parsed: no verdict
])
def test_majority(votes, expected):
    assert majority(votes) is expected


def test_positive_share():
    assert positive_share([True, True, False, None]) == pytest.approx(2 / 3)
    assert positive_share([None]) is None and positive_share([]) is None


# ---------------------------------------------------------------- the generative judge on a scripted generator


class EchoTokenizer:
    """Stands in for a chat tokenizer: the 'formatted' prompt is the user message itself."""

    def apply_chat_template(self, messages, tokenize=False, add_generation_prompt=True):
        return messages[-1]["content"]


class ScriptedGenerator:
    """Answers from the new chunk's text: a chunk containing BAD is judged Negative, ?? gives junk, else Positive.
    A chunk containing 'split' gets votes Positive, Negative, Positive (maj@3: Positive)."""

    def __init__(self):
        self.calls = []

    def generate(self, prompts, sampling):
        self.calls.append((list(prompts), sampling))
        out = []
        for p in prompts:
            chunk = p.split("New Reasoning Chunk:\n", 1)[1].split("\n" + DIRECT_INSTRUCTION)[0]
            if "split" in chunk:
                script = [POS, NEG, POS]
            else:
                script = [NEG if "BAD" in chunk else JUNK if "??" in chunk else POS] * 3
            out.append(script[:sampling.n])
        return out


def test_generative_judge_parses_k_samples_and_keeps_the_outputs():
    gen = ScriptedGenerator()
    judge = GenerativeJudge(gen, EchoTokenizer(), sampling=Sampling(temperature=1.0, n=3))
    items = [JudgeQuery("P?", (), "fine"), JudgeQuery("P?", ("fine",), "BAD"), JudgeQuery("P?", (), "??"),
             JudgeQuery("P?", (), "split")]
    verdicts = judge.judge(items)
    assert verdicts == [[True] * 3, [False] * 3, [None] * 3, [True, False, True]]
    assert judge.last_outputs[1] == [NEG] * 3 and len(gen.calls) == 1  # one batched call
    assert gen.calls[0][0][1] == judge_prompt("P?", ["fine"], "BAD")  # the CoT prompt of judge.py


def test_greedy_judging_runs_on_the_engine_with_the_unpadded_outputs(varied_model, toy_tokenizer):
    greedy, sampled = Sampling(max_new_tokens=16, temperature=0.0), Sampling(16, temperature=1.0, n=2)
    assert isinstance(judge_generator(varied_model, toy_tokenizer, sampled, 4), TransformersBackend)
    engine = judge_generator(varied_model, toy_tokenizer, greedy, 2)
    assert isinstance(engine, RolloutEngine)
    items = [JudgeQuery("Tom has 5 apples and buys 3 more.", (), "5+3=8"),
             JudgeQuery("Tom has 5 apples and buys 3 more. Then he eats 2.", ("5+3=8",), "8-2=7"),
             JudgeQuery("Solve 12+7.", ("12+7", "is"), "19"), JudgeQuery("a", (), "b")]
    on_engine = GenerativeJudge(engine, toy_tokenizer, sampling=greedy)
    unpadded = GenerativeJudge(TransformersBackend(varied_model, toy_tokenizer, batch_size=1, progress=False),
                               toy_tokenizer, sampling=greedy)  # one row per batch: no padding at all
    assert on_engine.judge(items) == unpadded.judge(items)
    assert on_engine.last_outputs == unpadded.last_outputs
    assert len({o[0] for o in unpadded.last_outputs}) == len(items)  # the outputs differ: the test has power


def test_no_cot_judge_uses_the_direct_prompt():
    gen = ScriptedGenerator()
    judge = GenerativeJudge(gen, EchoTokenizer(), cot=False)
    assert judge.judge([JudgeQuery("P?", ("a",), "b")]) == [[True]]
    prompt = gen.calls[0][0][0]
    assert prompt == judge_prompt_direct("P?", ["a"], "b")
    assert prompt.startswith(judge_prompt("P?", ["a"], "b")) and prompt.endswith(DIRECT_INSTRUCTION)
    assert "\\boxed{Positive}" in DIRECT_INSTRUCTION and "\\boxed{Negative}" in DIRECT_INSTRUCTION
    assert judge_prompt_direct("P?", [], "c", template="paper").endswith(DIRECT_INSTRUCTION)


def test_a_response_prefix_starts_each_answer_and_heads_each_output():
    class Continuation:  # continues whatever the prompt ends with; Negative when the prompt was forced to redo
        def __init__(self):
            self.prompts = []

        def generate(self, prompts, sampling):
            self.prompts += prompts
            return [[" 3+4=7\nChunk: 3+4=8\nMatch: no.\n\\boxed{Negative}" if p.endswith("Redo:") else POS]
                    * sampling.n for p in prompts]

    gen = Continuation()
    forced = GenerativeJudge(gen, EchoTokenizer(), response_prefix="Redo:")
    assert forced.judge([JudgeQuery("P?", (), "3+4=8")]) == [[False]]
    assert gen.prompts[-1] == judge_prompt("P?", [], "3+4=8") + "Redo:"
    assert forced.last_outputs[0][0].startswith("Redo: 3+4=7")  # the forced text is part of the judgment
    plain = GenerativeJudge(gen, EchoTokenizer())
    assert plain.judge([JudgeQuery("P?", (), "3+4=8")]) == [[True]] and plain.last_outputs == [[POS]]
    assert gen.prompts[-1] == judge_prompt("P?", [], "3+4=8")  # no prefix: the prompt is unchanged


def test_judge_items_become_queries():
    problem = Problem("p", 1, "Ann", "pens", 3, (Operation("add", 4),), text="Ann has 3 pens.")
    q = as_query(JudgeItem(problem, ("h",), "c", True))
    assert q == JudgeQuery("Ann has 3 pens.", ("h",), "c")


# ---------------------------------------------------------------- ProcessBench first-error prediction


class RecordingJudge:
    """A judge scripted on the chunk text (as ScriptedGenerator), recording every query it is asked."""

    def __init__(self):
        self.queries, self.calls = [], 0

    def judge(self, items):
        self.calls += 1
        self.queries += list(items)
        return [[False] if "BAD" in q.chunk else [None] if "??" in q.chunk else [True] for q in items]


def _rec(rid, steps):
    return PBRecord(rid, "g", f"problem {rid}", tuple(steps), False, -1)


def test_predict_first_errors_with_a_fake_judge():
    records = [_rec("a", ["s0", "s1", "BAD2", "BAD3"]), _rec("b", ["s0", "s1"]), _rec("c", ["BAD0", "s1"]),
               _rec("d", ["s0", "??1", "BAD2"])]
    judge = RecordingJudge()
    assert predict_first_errors(judge, records) == {"a": 2, "b": -1, "c": 0, "d": 1}  # unparseable = Negative
    assert judge.calls == 1 and len(judge.queries) == 4 + 2 + 2 + 3  # every step of every record, one batch
    # Each step is judged with the record's own earlier steps as history.
    assert judge.queries[:4] == [JudgeQuery("problem a", ("s0", "s1", "BAD2")[:i], s)
                                 for i, s in enumerate(["s0", "s1", "BAD2", "BAD3"])]
    assert predict_first_errors(RecordingJudge(), records, none_is_negative=False)["d"] == 2
    assert predict_first_error(RecordingJudge(), "P?", ["s0", "s1", "BAD"]) == 2
    assert predict_first_error(RecordingJudge(), "P?", ["s0"]) == -1


def test_first_errors_use_the_majority_of_k_samples():
    judge = GenerativeJudge(ScriptedGenerator(), EchoTokenizer(), sampling=Sampling(temperature=1.0, n=3))
    records = [_rec("x", ["ok", "split", "BAD", "ok"]), _rec("y", ["??", "ok"])]
    assert judge_records(judge, records) == {"x": [True, True, False, True], "y": [None, True]}
    assert predict_first_errors(judge, records) == {"x": 2, "y": 0}


# ---------------------------------------------------------------- RS-FT data


def test_rs_ft_keeps_only_outputs_whose_verdict_matches_the_label():
    items = [JudgeQuery("P?", (), "right chunk"), JudgeQuery("P?", ("right chunk",), "wrong chunk")]
    outputs = [[POS, NEG, JUNK, POS], [POS, NEG]]
    examples = rs_ft_examples(items, outputs, [True, False])
    assert examples == [Example(judge_prompt("P?", [], "right chunk"), POS, "judge")] * 2 + \
        [Example(judge_prompt("P?", ["right chunk"], "wrong chunk"), NEG, "judge")]
    assert len(rs_ft_examples(items, outputs, [True, False], max_per_item=1)) == 2
    assert rs_ft_examples(items, [[JUNK], [JUNK]], [True, False]) == []
    with pytest.raises(ValueError):
        rs_ft_examples(items, outputs, [True])


# ---------------------------------------------------------------- the discriminative baseline

RECORDS = [
    {"prompt": "Ann has 3 pens.", "completions": ["step A", "step B", "step C"],
     "labels_abs_q": [True, True, False], "labels_rel_ratio": [True, False, True], "true_labels": [True, False, None]},
    {"prompt": "Ben has 2 cards.", "completions": ["only step"], "labels_abs_q": [False],
     "labels_rel_ratio": [False], "true_labels": [False]},
]


def test_disc_sft_examples_alternate_steps_and_answers():
    convs = disc_sft_examples(RECORDS, "rel_ratio")
    assert [m["role"] for m in convs[0]] == ["user", "assistant"] * 3
    assert [m["content"] for m in convs[0]] == ["Ann has 3 pens.\n\nstep A", "+", "step B", "-", "step C", "+"]
    assert [m["content"] for m in convs[1]] == ["Ben has 2 cards.\n\nonly step", "-"]
    # True labels stop at the first error (None after it: the history is wrong there).
    assert [m["content"] for m in disc_sft_examples(RECORDS, "true")[0]] == ["Ann has 3 pens.\n\nstep A", "+",
                                                                             "step B", "-"]
    with pytest.raises(KeyError):
        disc_sft_examples(RECORDS, "rel_effective")
    with pytest.raises(ValueError):
        disc_messages("P?", ["a", "b", "c"], [True])


def test_disc_sft_dataset_puts_the_loss_on_the_answer_tokens_only(toy_tokenizer):
    tok = toy_tokenizer
    data = disc_sft_dataset(disc_sft_examples(RECORDS, "abs_q"), tok)
    ids, labels = data[0]["input_ids"], data[0]["labels"]
    positions = [i for i, lab in enumerate(labels) if lab != -100]
    assert [tok.decode([ids[i]]) for i in positions] == ["+", "+", "-"]
    assert all(labels[i] == ids[i] for i in positions)
    for i in positions:  # each answer token opens an assistant turn
        assert tok.decode(ids[:i]).endswith("<|im_start|>assistant\n")
    # The context of the third answer is exactly what the judge reads at inference for that step.
    assert tok.decode(ids[:positions[2]]) == disc_prompt(tok, JudgeQuery("Ann has 3 pens.", ("step A", "step B"),
                                                                         "step C"))
    assert [tok.decode([data[1]["input_ids"][i]]) for i, lab in enumerate(data[1]["labels"]) if lab != -100] == ["-"]
    # A length limit drops the answers beyond it, and a conversation left with none.
    short = disc_sft_dataset(disc_sft_examples(RECORDS, "abs_q"), tok, max_length=positions[1])
    assert len(short) == 2 and sum(lab != -100 for lab in short[0]["labels"]) == 1


def test_disc_judge_returns_one_verdict_per_item_and_ignores_padding(tiny_model, toy_tokenizer):
    judge = DiscriminativeJudge(tiny_model, toy_tokenizer, batch_size=2)
    items = [JudgeQuery("P?", (), "a"), JudgeQuery("P?", ("step one", "step two is longer"), "c"),
             JudgeQuery("Q?", ("x",), "y")]
    verdicts = judge.judge(items)
    assert len(verdicts) == 3 and all(len(v) == 1 and isinstance(v[0], bool) for v in verdicts)
    together = judge.scores(items)
    alone = [judge.scores([i])[0] for i in items]
    assert together == pytest.approx(alone, abs=1e-5) and all(0 < p < 1 for p in together)
    assert [v[0] for v in verdicts] == [p > 0.5 for p in together]
    assert judge.judge([]) == []


def test_disc_sft_train_moves_the_answer_probability(tiny_model, toy_tokenizer, tmp_path):
    from stepwiser_core.training import SFTSettings

    records = [{"prompt": "P?", "completions": ["s1", "s2"], "labels_abs_q": [False, False]}] * 4
    judge = DiscriminativeJudge(tiny_model, toy_tokenizer)
    query = [JudgeQuery("P?", ("s1",), "s2")]
    before = judge.scores(query)[0]
    disc_sft_train(tiny_model, toy_tokenizer, disc_sft_examples(records, "abs_q"),
                   SFTSettings(learning_rate=1e-2, batch_size=4, max_steps=4, warmup_ratio=0.0), tmp_path,
                   seed=0, progress=False)
    assert judge.scores(query)[0] < before  # trained on "-" only: P(+) goes down
