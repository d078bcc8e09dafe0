"""The paper tier's LLM segmenter and 01's prompt sources: what the segmenter is asked, how its attempts are filtered,
and a real (tiny) model behind the backend."""
import datasets
import pytest

from stepwiser_core import chunk_policy
from stepwiser_core.backends import BackendSettings
from stepwiser_core.generation import Sampling, chat_prompt
from stepwiser_core.llm_segmenter import llm_segment_attempts, segment_with_model, segmenter_prompt
from stepwiser_core.models import save_model
from stepwiser_core.numina import MathProblem
from stepwiser_core.segmentation import check_attempt, format_chunks
from stepwiser_core.verify import MathVerifyVerifier

RESPONSE = "Let $x = 2$.\nThen $x^2 = 4$.\n\nSo the answer is $\\boxed{4}$."
GOOD = format_chunks(["Let $x = 2$.\nThen $x^2 = 4$.", "So the answer is $\\boxed{4}$."])


class ScriptedSegmenter:
    """A segmenter that answers from a script, and records what it was asked."""

    def __init__(self, outputs):
        self.outputs, self.calls = outputs, []

    def generate(self, prompts, sampling):
        self.calls.append((list(prompts), sampling))
        return [list(o) for o in self.outputs]


def test_the_prompt_carries_table_1s_rules_and_the_response_verbatim():
    text = segmenter_prompt(RESPONSE)
    assert text.endswith("Solution:\n" + RESPONSE)
    for rule in ("Unified purpose", "Logical cohesion", "Clear transition", "<chunk> and </chunk>",
                 "Preserve all original text and newlines exactly"):
        assert rule in text


def test_attempts_are_sampled_n_per_response_in_the_chat_format_and_checked(toy_tokenizer):
    segmenter = ScriptedSegmenter([[GOOD, "Here you go:\n" + GOOD, GOOD]])
    attempts = llm_segment_attempts(segmenter, toy_tokenizer, [RESPONSE], 3, Sampling(64, 0.7, 1, seed=5))
    assert attempts == [[GOOD, "Here you go:\n" + GOOD, GOOD]]
    (prompts, sampling), = segmenter.calls
    assert prompts == [chat_prompt(toy_tokenizer, segmenter_prompt(RESPONSE))]
    assert (sampling.n, sampling.temperature, sampling.max_new_tokens, sampling.seed) == (3, 0.7, 64, 5)
    with pytest.raises(RuntimeError, match="expected 3 each"):
        llm_segment_attempts(ScriptedSegmenter([[GOOD]]), toy_tokenizer, [RESPONSE], 3, Sampling(64, 0.7, 1))
    with pytest.raises(ValueError, match="n_attempts"):
        llm_segment_attempts(segmenter, toy_tokenizer, [RESPONSE], 0, Sampling(64, 0.7, 1))
    assert llm_segment_attempts(segmenter, toy_tokenizer, [], 3, Sampling(64, 0.7, 1)) == []


def test_given_attempts_replace_the_toy_teacher_and_only_exact_ones_count():
    problem = MathProblem("numina-0", "What is $2^2$?", "4")
    preamble, altered = "Here you go:\n" + GOOD, GOOD.replace("= 4", "= 5")
    seg = chunk_policy.build_segmentation_data([(problem, RESPONSE), (problem, RESPONSE)], seed=0, n_attempts=3,
                                               teacher_error_rate=0.0, template="paper_chunk",
                                               attempts=[[GOOD, preamble, altered], [preamble, altered]])
    assert (seg.attempts, seg.valid_attempts, seg.responses, seg.kept) == (5, 1, 2, 1)
    assert seg.examples[0].completion == GOOD and "What is $2^2$?" in seg.examples[0].prompt
    with pytest.raises(ValueError, match="1 attempt lists for 2 responses"):
        chunk_policy.build_segmentation_data([(problem, RESPONSE)] * 2, 0, 3, 0.0, attempts=[[GOOD]])


def test_the_toy_teacher_skips_a_response_that_holds_a_chunk_tag():
    # Found on a GPU: 01 stopped when the smoke policy sampled "<chunk>" inside a response; now that response is
    # offered, fails every attempt and is not kept, and the others are segmented as before.
    problem = MathProblem("numina-0", "What is $2^2$?", "4")
    tagged = RESPONSE.replace("Then", "<chunk>Then")
    seg = chunk_policy.build_segmentation_data([(problem, tagged), (problem, RESPONSE)], seed=0, n_attempts=3,
                                               teacher_error_rate=0.0)
    assert (seg.attempts, seg.valid_attempts, seg.responses, seg.kept) == (6, 3, 2, 1)
    assert check_attempt(RESPONSE, seg.examples[0].completion) is not None  # the untagged response's segmentation


def test_a_real_model_behind_the_engine_backend(tmp_path, tiny_model, toy_tokenizer):
    save_model(tiny_model, toy_tokenizer, tmp_path / "segmenter")
    attempts = segment_with_model(tmp_path / "segmenter", BackendSettings("engine", 16, seed=0), [RESPONSE, "x"], 2,
                                  Sampling(12, 1.0, 1, seed=3))
    assert [len(a) for a in attempts] == [2, 2] and all(isinstance(t, str) for a in attempts for t in a)
    again = segment_with_model(tmp_path / "segmenter", BackendSettings("engine", 16, seed=0), [RESPONSE, "x"], 2,
                               Sampling(12, 1.0, 1, seed=3))
    assert again == attempts  # seeded


def test_01_draws_numina_prompts_and_holds_its_evaluation_prompts_apart(tmp_path):
    rows = [{"source": "math", "problem": f"What is ${k} + {k}$?", "solution": f"It is $\\boxed{{{2 * k}}}$."}
            for k in range(30)]
    datasets.Dataset.from_list(rows).to_parquet(str(tmp_path / "numina.parquet"))
    verifier = MathVerifyVerifier()
    prompts, counts = chunk_policy.segmentation_prompts("numina", 10, 0, verifier, str(tmp_path / "numina.parquet"))
    assert len(prompts) == 10 and counts["kept"] == 10
    held = chunk_policy.evaluation_problems("numina", tmp_path, 0, verifier, 25, [p.text for p in prompts],
                                            str(tmp_path / "numina.parquet"))
    assert len(held) == 20 and not {p.text for p in held} & {p.text for p in prompts}  # 30 rows, 10 excluded
    toy, toy_counts = chunk_policy.segmentation_prompts("toy", 8, 0, verifier)
    assert len(toy) == 8 and toy_counts == {"kept": 8}
    with pytest.raises(ValueError, match="unknown problem source"):
        chunk_policy.segmentation_prompts("gsm8k", 8, 0, verifier)
