"""GRPO and SFT on two processes from inside one (torchrun over gloo on the CPU; on GPUs the same path runs over
NCCL), and trained judges held by name and loaded one at a time (`SavedJudges`)."""
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from stepwiser_core import judge_rl, judge_runs, launch
from stepwiser_core.instruct import Example
from stepwiser_core.models import load_model, save_model
from stepwiser_core.stages import DataSelectionConfig, JudgeTrainingConfig, SegmentationConfig
from stepwiser_core.training import SFTSettings

RECORD = {
    "problem_id": 7, "level": 2, "prompt": "Ann has 3 apples.\nFirst, 4 more arrive.\nHow many apples does Ann have?",
    "completions": ["Start: 3.", "3 + 4 = 8.", "So 8 apples.", "Answer: \\boxed{8}"],
    "labels_abs_q": [True, False, True, False], "true_labels": [True, False, None, None],
}


@pytest.fixture(autouse=True)
def on_the_cpu(monkeypatch):
    """These tests are of the CPU path, gloo, on any machine. On a GPU machine each child would look for a GPU of its
    own (on one H200 the second stopped: no such device), and the in-process runs compared with them would train in
    bf16 on the GPU; so the children see no GPU and this process reports none."""
    child_env = launch._child_env
    monkeypatch.setattr(launch, "_child_env", lambda: {**child_env(), "CUDA_VISIBLE_DEVICES": ""})
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture()
def init_dir(tmp_path, tiny_model, toy_tokenizer):
    save_model(tiny_model, toy_tokenizer, tmp_path / "init")
    return tmp_path / "init"


def test_a_grpo_run_trains_on_two_processes_and_rank_0_evaluates_once(tmp_path, init_dir, toy_tokenizer):
    items = judge_rl.balance(judge_rl.judge_items_from_records([RECORD], "abs_q"), seed=0) * 2
    items_eval = [{**it, "label_abs_q": it["label"]} for it in items[:2]]
    cfg = JudgeTrainingConfig(rules=["abs_q"], grpo_num_processes=2, max_steps=2, batch_size=4,
                              updates_per_generation=1, max_completion_length=8, eval_every=1, gen_batch_size=8)
    model, frame = judge_runs.train_grpo_judge("stepwiser_abs_q", "abs_q", items, items_eval, toy_tokenizer, cfg,
                                               init_dir, tmp_path / "run")
    work = tmp_path / "run" / "trainer" / "stepwiser_abs_q"
    assert json.loads((work / "log_history.json").read_text())["world_size"] == 2
    evaluated = frame.dropna(subset=["eval_acc_truth"])["step"].tolist()
    assert evaluated == [0, 1, 2]  # before training, after each step, once each: rank 0 alone evaluates
    assert frame.dropna(subset=["reward"])["step"].tolist() == [1, 2]
    logged = json.loads((work / "log_history.json").read_text())["log_history"]
    # the evaluation's own key order (acc_truth, format_rate, ...), not sorted, so grpo_history.csv has the columns of
    # an in-process run
    assert list(logged[0]) != sorted(logged[0]) and list(logged[0])[:2] == ["eval_acc_truth", "eval_format_rate"]
    # (an untrained model writes no verdict, so every reward is 0 and the weights cannot move: what comes back is
    # checked to be what rank 0 saved, and saved again where an in-process run saves its judge)
    saved, _ = load_model(tmp_path / "run" / "judges" / "stepwiser_abs_q")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), saved.state_dict().values()))
    ranked, _ = load_model(work / "model")
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ranked.state_dict().values()))


def test_a_failed_launch_raises_with_the_processes_own_error(tmp_path, toy_tokenizer):
    items = judge_rl.judge_items_from_records([RECORD], "abs_q")
    cfg = JudgeTrainingConfig(rules=["abs_q"], grpo_num_processes=2, max_steps=1, batch_size=4, eval_every=0)
    with pytest.raises(RuntimeError, match=r"(?s)failed \(exit [1-9].*no model at"):
        judge_runs.train_grpo_judge("x", "abs_q", items, [], toy_tokenizer, cfg, tmp_path / "missing", tmp_path / "run")


@pytest.mark.parametrize("fails", [False, True])
def test_each_process_closes_its_process_group_whether_its_job_succeeds_or_fails(tmp_path, monkeypatch, fails):
    # Left open until interpreter exit, gloo's threads could abort a process that had trained and saved (SIGABRT,
    # "terminate called without an active exception"): 2 of 24 two-process fine-tunings did before main closed it.
    import torch.distributed as dist

    def job(work_dir, rank, world_size):
        assert dist.is_initialized() and (rank, world_size) == (0, 1)
        if fails:
            raise ValueError("the job failed")

    monkeypatch.setattr(launch, "_train", job)
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'store'}", rank=0, world_size=1)
    try:
        if fails:
            with pytest.raises(ValueError, match="the job failed"):
                launch.main([str(tmp_path)])
        else:
            launch.main([str(tmp_path)])
        assert not dist.is_initialized()
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def _weights(model):
    return [p.detach().clone() for p in model.state_dict().values()]


# four solving examples whose answers differ in length (per-token loss matters), for the SFT comparisons below
SUMS = [Example(f"What is {a} + {b}?", f"{a} + {b} = {a + b}. " * k, "solve")
        for a, b, k in ((3, 4, 1), (12, 5, 2), (7, 7, 1), (20, 13, 3))]


def test_an_sft_on_two_processes_makes_the_update_of_one_process_with_the_same_global_batch(tmp_path, init_dir):
    # four examples and a global batch of four: every step sees all of them, however they are dealt out, so the two
    # runs must agree if the processes average their gradients over the global batch (per-token loss included:
    # the answers differ in length)
    examples = SUMS
    settings = SFTSettings(learning_rate=1e-2, batch_size=4, max_steps=2, logging_steps=1)
    init = _weights(load_model(init_dir)[0])
    single, single_log = launch.fine_tune_copy(init_dir, examples, settings, tmp_path / "one", seed=0)
    multi, multi_log = launch.fine_tune_copy(init_dir, examples, settings, tmp_path / "two", seed=0, num_processes=2)
    work = tmp_path / "two"
    assert json.loads((work / "log_history.json").read_text())["world_size"] == 2
    assert not json.loads((work / "log_history.json").read_text())["sharded"]  # plain data parallelism
    assert pickle.loads((work / "job.pkl").read_bytes()).settings.batch_size == 2  # each process: half the batch
    assert [r["step"] for r in multi_log if "loss" in r] == [1, 2]
    assert not all(torch.equal(a, b) for a, b in zip(init, _weights(multi)))  # it trained
    for a, b in zip(_weights(single), _weights(multi)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    losses = [(r["loss"], s["loss"]) for r, s in zip(multi_log, single_log) if "loss" in r]
    assert losses and all(abs(a - b) < 1e-4 for a, b in losses)


SHARDED_CHILD = """
import sys
from pathlib import Path

import torch
import torch.distributed as dist
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
from torch.distributed.fsdp import fully_shard

from stepwiser_core import launch
from stepwiser_core.models import load_model

dist.init_process_group("gloo")
rank, world_size = dist.get_rank(), dist.get_world_size()
work = Path(sys.argv[1])
model, tokenizer = load_model(sys.argv[2])
for layer in model.model.layers:  # as accelerate wraps a model for the Trainer's FSDP2: each decoder layer, then the root
    fully_shard(layer)
fully_shard(model)
torch.manual_seed(rank)  # each process its own batch, as data parallelism deals them
ids = torch.randint(0, 100, (2, 12))
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
model(input_ids=ids, labels=ids).loss.backward()
optimizer.step()
trained = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
if rank == 0:
    torch.save({k: v.clone() for k, v in trained.items()}, work / "trained.pt")
launch._save_trained(model, tokenizer, [{"loss": 1.0, "step": 1}], work, rank, world_size, "fsdp")
dist.destroy_process_group()
launch.exit_without_finalising(0)  # as `python -m stepwiser_core.launch` ends: finalised, 3 of 40 of these aborted
"""


def _children_output(done: subprocess.CompletedProcess) -> str:
    """What the children printed, then torchrun's verdict. A plain tail would show torchrun's own traceback (some 2,000
    characters) and lose the children's last lines, where their error is ("terminate called without an active
    exception", say)."""
    agent = done.stderr.find("torch/distributed/elastic")
    children = done.stderr if agent < 0 else done.stderr[:done.stderr.rfind("\n", 0, agent) + 1]
    verdict = done.stderr[done.stderr.find("Root Cause"):] if "Root Cause" in done.stderr else ""
    return done.stdout[-1000:] + children[-3000:] + verdict[-800:]


def test_a_sharded_model_is_gathered_from_every_process_and_saved_whole(tmp_path, init_dir):
    # The Trainer shards only on GPUs (below), so the save path is run here on a model sharded by hand with FSDP2 over
    # two CPU processes: rank 0 must save the whole trained model, gathered from both, not its shard
    script = tmp_path / "child.py"
    script.write_text(SHARDED_CHILD)
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                           str(script), str(work), str(init_dir)], capture_output=True, text=True,
                          env=launch._child_env())
    assert done.returncode == 0, _children_output(done)
    history = json.loads((work / launch.HISTORY_FILE).read_text())
    assert history["world_size"] == 2 and history["sharded"] and history["log_history"] == [{"loss": 1.0, "step": 1}]
    trained, saved, init = (torch.load(work / "trained.pt"), load_model(work / launch.MODEL_DIR)[0].state_dict(),
                            load_model(init_dir)[0].state_dict())
    assert saved.keys() == init.keys() and all(saved[k].shape == init[k].shape for k in init)  # whole, not a shard
    assert all(torch.equal(saved[k], trained[k]) for k in trained)
    assert not all(torch.equal(saved[k], init[k]) for k in init)  # the trained weights, not the init's


TRAINER_FSDP_CHILD = """
import sys

from stepwiser_core import judge_rl, launch, sharding, training

# as on GPUs: the CPU's refusal (sharding.trainer_arguments) lifted, for this check only
training.trainer_arguments = judge_rl.trainer_arguments = lambda name, on_gpu: sharding.trainer_arguments(name, True)
launch.main([sys.argv[1]])
launch.exit_without_finalising(0)  # as `python -m stepwiser_core.launch` ends
"""

# accelerate's AcceleratorState gives the FSDP plugin to these distributed types only; MULTI_CPU is not among them
ACCELERATE_GPU_TYPES = """            elif self.distributed_type in [
                DistributedType.MULTI_GPU,"""


@pytest.fixture(scope="module")
def trainer_fsdp_on_cpu(tmp_path_factory):
    """Runs a job's work folder on two CPU processes the way a GPU run shards it: the children import a copy of
    accelerate (pinned, requirements.txt) whose list of shardable process types takes in the CPU, and our refusal of
    sharding on the CPU is lifted. Returns run(work_dir) -> the children's CompletedProcess."""
    import accelerate

    root = tmp_path_factory.mktemp("trainer_fsdp")
    patched = root / "accelerate"
    shutil.copytree(Path(accelerate.__file__).parent, patched, ignore=shutil.ignore_patterns("__pycache__"))
    state = (patched / "state.py").read_text()
    assert state.count(ACCELERATE_GPU_TYPES) == 1, "accelerate changed: update ACCELERATE_GPU_TYPES to its list"
    (patched / "state.py").write_text(state.replace(ACCELERATE_GPU_TYPES, ACCELERATE_GPU_TYPES.replace(
        "[\n", "[\n                DistributedType.MULTI_CPU,\n")))
    (root / "child.py").write_text(TRAINER_FSDP_CHILD)
    env = {**launch._child_env(), "CUDA_VISIBLE_DEVICES": ""}
    env["PYTHONPATH"] = os.pathsep.join((str(root), env["PYTHONPATH"]))

    def run(work_dir: Path) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                               str(root / "child.py"), str(work_dir)], capture_output=True, text=True, env=env)
        assert done.returncode == 0, _children_output(done)
        history = json.loads((work_dir / launch.HISTORY_FILE).read_text())
        assert history["world_size"] == 2 and history["sharded"]  # FSDP2 did split the model
        return history

    return run


def _job_folder(path: Path, job) -> Path:
    path.mkdir()
    (path / launch.JOB_FILE).write_bytes(pickle.dumps(job))
    return path


def test_the_trainers_own_fsdp2_sft_on_two_cpu_processes_makes_the_one_process_update(tmp_path, init_dir,
                                                                                      trainer_fsdp_on_cpu):
    # The whole sharded path as a GPU run takes it (TRL's SFTTrainer, accelerate's FSDP2 wrapping from our arguments,
    # the training, the gathering, rank 0's save), on two CPU processes
    examples = SUMS
    settings = SFTSettings(learning_rate=1e-2, batch_size=4, max_steps=2, logging_steps=1)
    single, single_log = launch.fine_tune_copy(init_dir, examples, settings, tmp_path / "one", seed=0)
    job = launch.SFTJob(str(init_dir), examples, replace(settings, batch_size=2, sharding="fsdp"), seed=0)
    work = _job_folder(tmp_path / "fsdp", job)
    history = trainer_fsdp_on_cpu(work)
    sharded = load_model(work / launch.MODEL_DIR)[0]
    init = _weights(load_model(init_dir)[0])
    assert not all(torch.equal(a, b) for a, b in zip(init, _weights(sharded)))  # it trained
    for a, b in zip(_weights(single), _weights(sharded)):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    losses = [(r["loss"], s["loss"]) for r, s in zip(history["log_history"], single_log) if "loss" in r]
    assert len(losses) == 2 and all(abs(a - b) < 1e-4 for a, b in losses)


def test_a_sharded_grpo_run_samples_trains_and_saves_on_two_cpu_processes(tmp_path, init_dir, toy_tokenizer,
                                                                          trainer_fsdp_on_cpu):
    # TRL's GRPOTrainer on a sharded model: every process samples its completions through the sharded model (each
    # forward pass gathers the layers from both), then trains; what comes back is the whole model. (An untrained
    # model writes no verdict, so every reward is 0 and the weights cannot move: the run is checked, not the update.)
    items = judge_rl.balance(judge_rl.judge_items_from_records([RECORD], "abs_q"), seed=0) * 2
    settings = judge_rl.GRPOSettings(max_steps=2, batch_size=4, updates_per_generation=1, max_completion_length=8,
                                     sharding="fsdp")
    job = launch.GRPOJob(str(init_dir), judge_rl.rl_dataset(items, toy_tokenizer, "toy"), settings, {"reward": "cot"})
    history = trainer_fsdp_on_cpu(_job_folder(tmp_path / "grpo", job))
    assert [r["step"] for r in history["log_history"] if "reward" in r] == [1, 2]
    init, saved = load_model(init_dir)[0].state_dict(), load_model(tmp_path / "grpo" / launch.MODEL_DIR)[0].state_dict()
    assert saved.keys() == init.keys() and all(torch.equal(saved[k], init[k]) for k in init)


def test_sharding_needs_gpus_and_asks_the_trainer_for_fsdp2_on_them(tmp_path):
    from trl import SFTConfig

    from stepwiser_core.sharding import trainer_arguments
    from stepwiser_core.training import sft_config

    assert trainer_arguments("none", on_gpu=True) == trainer_arguments("none", on_gpu=False) == {}
    # what transformers makes of them for accelerate's FSDP plugin (the Trainer's own reading, as on a GPU; bf16 and
    # the GPU itself cannot be had here): FSDP2, each decoder layer its own unit, full sharding, whole checkpoints
    args = SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", activation_checkpointing=False,
                     **trainer_arguments("fsdp", on_gpu=True))
    assert args.fsdp_plugin_args == {"fsdp_version": 2, "auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
                                     "cpu_ram_efficient_loading": False, "state_dict_type": "FULL_STATE_DICT",
                                     "activation_checkpointing": True, "reshard_after_forward": True}
    # on the CPU accelerate would quietly train every process with the whole model, so both trainers refuse
    with pytest.raises(ValueError, match="needs GPUs"):
        sft_config(SFTSettings(sharding="fsdp"), tmp_path, seed=0)
    with pytest.raises(ValueError, match="needs GPUs"):
        judge_rl.grpo_config(judge_rl.GRPOSettings(sharding="fsdp"), tmp_path)
    for make in (lambda: SFTSettings(sharding="zero3"), lambda: judge_rl.GRPOSettings(sharding="zero3")):
        with pytest.raises(ValueError, match="sharding must be one of"):
            make()


def test_a_sharded_fine_tuning_on_the_cpu_stops_with_the_reason(tmp_path, init_dir):
    examples = [Example("What is 3 + 4?", "3 + 4 = 7.", "solve")] * 4
    settings = SFTSettings(batch_size=4, max_steps=1, sharding="fsdp")
    with pytest.raises(RuntimeError, match="(?s)failed.*needs GPUs"):
        launch.fine_tune_copy(init_dir, examples, settings, tmp_path / "fsdp", seed=0, num_processes=2)


@pytest.mark.parametrize("make, message", [
    (lambda: SegmentationConfig(sft_sharding="fsdp"), "set sft_num_processes"),
    (lambda: SegmentationConfig(sft_sharding="zero3", sft_num_processes=2), "sft_sharding must be one of"),
    (lambda: JudgeTrainingConfig(sft_sharding="fsdp"), "set sft_num_processes"),
    (lambda: JudgeTrainingConfig(grpo_sharding="fsdp", eval_every=0), "set grpo_num_processes"),
    (lambda: JudgeTrainingConfig(grpo_sharding="fsdp", grpo_num_processes=2), "cannot evaluate while it trains"),
    (lambda: DataSelectionConfig(sft_sharding="fsdp"), "set sft_num_processes"),
])
def test_a_sharding_the_stage_cannot_run_stops_the_config(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_sharding_over_several_processes_passes_the_config():
    assert JudgeTrainingConfig(grpo_sharding="fsdp", grpo_num_processes=2, eval_every=0, sft_sharding="fsdp",
                               sft_num_processes=2).grpo_sharding == "fsdp"
    assert DataSelectionConfig(sft_sharding="fsdp", sft_num_processes=2).sft_sharding == "fsdp"


def test_disc_sft_runs_on_two_processes_when_asked(tmp_path, init_dir, toy_tokenizer):
    cfg = JudgeTrainingConfig(rules=["abs_q"], sft_num_processes=2, sft_batch_size=2, disc_max_steps=1)
    model = judge_runs.train_disc_sft("abs_q", [RECORD], toy_tokenizer, cfg, init_dir, tmp_path / "run")
    work = tmp_path / "run" / "trainer" / "disc_sft_abs_q"
    assert json.loads((work / "log_history.json").read_text())["world_size"] == 2
    assert pickle.loads((work / "job.pkl").read_bytes()).disc
    saved, _ = load_model(tmp_path / "run" / "judges" / "disc_sft_abs_q")
    assert all(torch.equal(a, b) for a, b in zip(_weights(model), _weights(saved)))
    assert not all(torch.equal(a, b) for a, b in zip(_weights(load_model(init_dir)[0]), _weights(saved)))


@pytest.mark.parametrize("make", [lambda: JudgeTrainingConfig(sft_batch_size=16, sft_num_processes=3),
                                  lambda: SegmentationConfig(batch_size=32, sft_num_processes=3),
                                  lambda: SegmentationConfig(sft_num_processes=0)])
def test_a_global_batch_that_does_not_split_over_the_processes_stops_the_config(make):
    with pytest.raises(ValueError, match="processes"):
        make()


def test_saved_judges_keep_names_and_load_each_judge_when_read(tmp_path, tiny_model, toy_tokenizer):
    judges = judge_runs.SavedJudges(tmp_path / "judges")
    with pytest.raises(FileNotFoundError, match="no saved judge 'a'"):
        judges["a"] = tiny_model  # only a judge its train function has saved can be registered
    for name in ("b", "a"):
        save_model(tiny_model, toy_tokenizer, tmp_path / "judges" / name)
        judges[name] = tiny_model
    assert list(judges) == ["b", "a"] and len(judges) == 2 and "c" not in judges
    loaded = judges["a"]
    assert loaded is not tiny_model  # the registered model is not kept ...
    params = zip(loaded.state_dict().values(), tiny_model.state_dict().values())
    assert all(torch.equal(x.cpu(), y) for x, y in params)
    assert list(judge_runs.SavedJudges(tmp_path / "judges", ["a"])) == ["a"]  # ... only its name
    with pytest.raises(KeyError):
        judges["c"]
