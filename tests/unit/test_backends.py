"""Choosing a generation backend by name, and the vLLM path checked against a stand-in `vllm` module.

vLLM has no CPU build, so these tests cannot run it; a fake module records what our code asks of `vllm.LLM` and
`SamplingParams` and answers with token ids, which is all `VLLMBackend` exchanges with it. What vLLM does with those
requests (prefix caching, seeding) is vLLM's and is checked only on a GPU machine.
"""
import copy
import sys
import types
from dataclasses import replace

import pandas as pd
import pytest
import torch

from stepwiser_core import pb_stage
from stepwiser_core.backends import BackendSettings, close_backend, open_backend
from stepwiser_core.config import ConfigError, load_config
from stepwiser_core.generation import Sampling
from stepwiser_core.models import save_model
from stepwiser_core.processbench import PBRecord
from stepwiser_core.rollouts import RolloutEngine
from stepwiser_core.stages import ProcessBenchConfig, RolloutLabelConfig

VERDICT = "Looks right.\n\\boxed{Positive}"


class FakeLLM:
    """Records its construction and requests; every completion is VERDICT's tokens, then the end-of-turn token."""

    made: list["FakeLLM"] = []
    answer: list[int] = []

    def __init__(self, **kwargs):
        self.kwargs, self.calls, self.shutdowns = kwargs, [], 0
        self.llm_engine = types.SimpleNamespace(engine_core=types.SimpleNamespace(shutdown=self._shutdown))
        FakeLLM.made.append(self)

    def _shutdown(self):
        self.shutdowns += 1

    def generate(self, requests, params, use_tqdm=True):
        self.calls.append((requests, params))
        return [types.SimpleNamespace(outputs=[types.SimpleNamespace(token_ids=list(self.answer)) for _ in range(p.n)])
                for p in params]


class FakeSamplingParams:
    def __init__(self, **kwargs):
        self.__dict__.update(kwargs)


@pytest.fixture()
def fake_vllm(monkeypatch, toy_tokenizer):
    module = types.ModuleType("vllm")
    module.LLM, module.SamplingParams = FakeLLM, FakeSamplingParams
    monkeypatch.setitem(sys.modules, "vllm", module)
    FakeLLM.made = []
    FakeLLM.answer = toy_tokenizer(VERDICT, add_special_tokens=False)["input_ids"] + [toy_tokenizer.eos_token_id]
    return FakeLLM


@pytest.fixture()
def checkpoint(tmp_path, tiny_model, toy_tokenizer):
    save_model(tiny_model, toy_tokenizer, tmp_path / "judge")
    return tmp_path / "judge"


def test_vllm_backend_builds_one_engine_with_prefix_caching_and_sends_our_token_ids(fake_vllm, checkpoint,
                                                                                    toy_tokenizer):
    settings = BackendSettings("vllm", seed=5, vllm_gpu_memory_utilization=0.5, vllm_tensor_parallel_size=2)
    backend = open_backend(checkpoint, settings)
    (llm,) = fake_vllm.made
    assert llm.kwargs == {"model": str(checkpoint), "enable_prefix_caching": True, "seed": 5, "dtype": "auto",
                          "generation_config": "vllm", "gpu_memory_utilization": 0.5, "tensor_parallel_size": 2}
    prefixes = ["Ann has 3 apples.", "3+4=7"]
    out = backend.rollout(prefixes, 3, Sampling(max_new_tokens=7, temperature=0.8, seed=1))
    assert out == [[VERDICT] * 3] * 2  # decoded by our tokenizer, the end-of-turn token dropped
    requests, params = llm.calls[0]
    assert [r["prompt_token_ids"] for r in requests] == toy_tokenizer(prefixes, add_special_tokens=False)["input_ids"]
    assert all((p.n, p.temperature, p.top_p, p.max_tokens, p.stop_token_ids) ==
               (3, 0.8, 1.0, 7, [toy_tokenizer.eos_token_id]) for p in params)
    assert params[1].seed - params[0].seed == 3  # each request's m children get seeds of their own
    assert backend.generate(["x"], Sampling(max_new_tokens=4, temperature=0.0)) == [[VERDICT]]
    assert llm.calls[1][1][0].temperature == 0.0 and llm.calls[1][1][0].n == 1

    close_backend(backend)
    close_backend(backend)  # closing twice is harmless
    assert llm.shutdowns == 1 and backend.llm is None


def test_the_engine_is_the_default_and_an_unknown_backend_is_refused(checkpoint, toy_tokenizer):
    engine = open_backend(checkpoint, BackendSettings(max_batch_rows=7), desc="judge")
    assert isinstance(engine, RolloutEngine) and engine.max_batch_rows == 7 and engine.desc == "judge"
    assert engine.tokenizer("3+4=7")["input_ids"] == toy_tokenizer("3+4=7")["input_ids"]
    close_backend(engine)  # nothing to free
    with pytest.raises(ValueError, match="valid: engine, vllm"):
        BackendSettings("gpu")


@pytest.mark.parametrize("cls", [RolloutLabelConfig, ProcessBenchConfig])
def test_stages_check_the_backend_before_anything_runs(cls):
    assert BackendSettings.from_config(cls(), 9).name == "engine"
    with pytest.raises(ConfigError, match="generation_backend must be one of engine, vllm, not 'gpu'"):
        load_config(cls, None, {"generation_backend": "gpu"}, "toy")
    with pytest.raises(ConfigError, match="vllm_gpu_memory_utilization"):
        load_config(cls, None, {"vllm_gpu_memory_utilization": 1.5}, "toy")


def two_per_subset(problem: str = "Ann has 3 apples and buys 4.") -> dict[str, list[PBRecord]]:
    """Two records of `problem` per subset: the first right at every step, the second wrong at step 0."""
    return {s: [PBRecord(f"{s}-{i}", "g", problem, (f"3+4={7 + i}", f"\\boxed{{{7 + i}}}"), i == 0, i - 1)
                for i in range(2)] for s in ("gsm8k", "math", "olympiadbench", "omnimath")}


def test_04_judges_through_vllm_one_checkpoint_at_a_time(fake_vllm, checkpoint, toy_tokenizer, monkeypatch):
    registry = {"zero_shot": {"kind": "cot", "path": str(checkpoint), "rule": None},
                "stepwiser_abs_q": {"kind": "cot", "path": str(checkpoint), "rule": "abs_q"}}
    bench = two_per_subset()
    cfg = ProcessBenchConfig(generation_backend="vllm", maj_k=2, judge_max_new_tokens=9)
    monkeypatch.setattr(pb_stage, "load_model", lambda *a: pytest.fail("a generative judge needs no HF model here"))
    table, predictions = pb_stage.score_judges(registry, bench, cfg)
    assert [llm.kwargs["model"] for llm in fake_vllm.made] == [str(checkpoint)] * 2  # one engine per checkpoint ...
    assert [llm.shutdowns for llm in fake_vllm.made] == [1, 1]  # ... each shut down before the next one loads
    # every step judged Positive (the fake's verdict), so every solution is predicted correct, for every variant
    assert set(predictions) == {"zero_shot", "stepwiser_abs_q", "stepwiser_abs_q@maj2"}
    assert all(set(p.values()) == {-1} for p in predictions.values())
    voting = [params for requests, params in fake_vllm.made[1].calls if params[0].n == 2]
    assert voting and voting[0][0].temperature == cfg.maj_temperature
    averages = table[table["subset"] == "average"]
    assert set(averages["acc_correct"]) == {100.0} and set(averages["acc_error"]) == {0.0}


def test_scores_are_kept_per_judge_and_reused_only_while_weights_benchmark_and_settings_are_unchanged(
        fake_vllm, checkpoint, tiny_model, toy_tokenizer, tmp_path):
    other = tmp_path / "other_judge"
    save_model(tiny_model, toy_tokenizer, other)
    registry = {"zero_shot": {"kind": "cot", "path": str(checkpoint), "rule": None},
                "stepwiser_abs_q": {"kind": "cot", "path": str(other), "rule": "abs_q"}}
    cfg, cache = ProcessBenchConfig(generation_backend="vllm", maj_k=2, judge_max_new_tokens=9), tmp_path / "scores"
    fresh, fresh_predictions = pb_stage.score_judges(registry, two_per_subset(), cfg)
    kept, kept_predictions = pb_stage.score_judges(registry, two_per_subset(), cfg, cache)
    assert len(fake_vllm.made) == 4 and sorted(p.name for p in cache.iterdir()) == ["stepwiser_abs_q.json",
                                                                                  "zero_shot.json"]
    again, again_predictions = pb_stage.score_judges(registry, two_per_subset(), cfg, cache)
    assert len(fake_vllm.made) == 4  # nothing loaded: every row and prediction read back, and equal to a fresh run
    pd.testing.assert_frame_equal(again, fresh)
    pd.testing.assert_frame_equal(kept, fresh)
    assert again_predictions == kept_predictions == fresh_predictions
    with torch.no_grad():  # new weights at the same path: that judge alone is scored again
        changed = copy.deepcopy(tiny_model)
        next(changed.parameters()).add_(1.0)
    save_model(changed, toy_tokenizer, other)
    pb_stage.score_judges(registry, two_per_subset(), cfg, cache)
    assert [llm.kwargs["model"] for llm in fake_vllm.made[4:]] == [str(other)]
    pears = two_per_subset("Ann has 3 pears and buys 4.")
    pb_stage.score_judges(registry, pears, cfg, cache)  # another benchmark: both judges again
    assert len(fake_vllm.made) == 7
    pb_stage.score_judges(registry, pears, replace(cfg, maj_k=3), cache)  # other settings: both again
    assert len(fake_vllm.made) == 9


def test_01_samples_through_transformers_or_vllm_and_segments_through_vllm(fake_vllm, checkpoint, tiny_model,
                                                                          toy_tokenizer):
    from stepwiser_core.backends import open_sampler
    from stepwiser_core.generation import TransformersBackend
    from stepwiser_core.generation_vllm import VLLMBackend
    from stepwiser_core.llm_segmenter import segment_with_model

    plain = open_sampler(checkpoint, BackendSettings("engine"), tiny_model, toy_tokenizer, 8, "base policy")
    assert isinstance(plain, TransformersBackend) and plain.model is tiny_model and plain.batch_size == 8
    assert not fake_vllm.made  # the model already in memory is used; nothing is loaded
    on_gpu = open_sampler(checkpoint, BackendSettings("vllm", seed=2), tiny_model, toy_tokenizer, 8)
    assert isinstance(on_gpu, VLLMBackend) and fake_vllm.made[-1].kwargs["model"] == str(checkpoint)
    assert on_gpu.tokenizer is toy_tokenizer
    # the LLM segmenter: one engine for all attempts, shut down afterwards so the SFT has the GPU's memory
    attempts = segment_with_model(checkpoint, BackendSettings("vllm", vllm_tensor_parallel_size=8), ["a\nb", "c"], 8,
                                  Sampling(32, 0.7, 1, seed=4))
    segmenter = fake_vllm.made[-1]
    assert attempts == [[VERDICT] * 8] * 2 and segmenter.kwargs["tensor_parallel_size"] == 8
    assert [p.n for p in segmenter.calls[0][1]] == [8, 8] and segmenter.shutdowns == 1


def test_01_samples_a_policy_and_closes_the_sampler(fake_vllm, checkpoint, tiny_model, toy_tokenizer):
    from stepwiser_core.base_policy import sample_solutions
    from stepwiser_core.chunk_policy import sample_policy
    from stepwiser_core.generation import TransformersBackend
    from stepwiser_core.world.problems import generate_problems

    problems, sampling = generate_problems(0, 1, levels=(1, 2)), Sampling(6, 1.0, 2, seed=3)
    texts = sample_policy(checkpoint, BackendSettings("engine"), tiny_model, toy_tokenizer, 4, problems, sampling, "toy")
    direct = sample_solutions(TransformersBackend(tiny_model, toy_tokenizer, batch_size=4, progress=False),
                              toy_tokenizer, problems, sampling, "toy")
    assert texts == direct and not fake_vllm.made  # the engine setting: the loaded model, the same draws
    on_gpu = sample_policy(checkpoint, BackendSettings("vllm"), tiny_model, toy_tokenizer, 4, problems, sampling, "toy")
    assert on_gpu == [[VERDICT] * 2] * 2 and fake_vllm.made[-1].shutdowns == 1  # closed after sampling
