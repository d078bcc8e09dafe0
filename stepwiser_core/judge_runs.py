"""Stage 03's training runs, one call each from the notebook: training sets, held-out evaluation of any judge,
GRPO judges, the RS-FT and Disc + SFT baselines, the judge registry and the stage's metrics.

Every run starts from the same initial model, loaded afresh from `init_dir`, and saves its judge to
`<run_dir>/judges/<name>`, which notebook 04 reads through `judges.json`.
"""
from __future__ import annotations

import random
from collections.abc import Mapping, MutableMapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from . import faithfulness, judge_rl, judge_stage, judges, launch
from .generation import Sampling
from .io import atomic_write_json, atomic_write_text, read_json
from .models import load_model, save_model, weights_digest
from .processbench import PBRecord
from .rollout_labels import PAPER_POSITIVE_SHARE  # the paper's positive shares before balancing
from .stages import JudgeTrainingConfig
from .training import SFTSettings, sft_train

if TYPE_CHECKING:
    from .world.problems import Problem

WARMUP_STAMP = "warmup.json"  # beside the warmed judge init: the settings it was trained with
WARMUP_LOG = "warmup_log.csv"  # beside it: the warm-up's training loss, one row per logging step


def warmup_problems(seed: int, per_level: int, benchmark_seed: int, exclude_texts: Sequence[str] = ()) -> list[Problem]:
    """The problems of the judge warm-up's exercises: `per_level` per level of the "judge_warmup" split, less those
    whose text is in `exclude_texts` or among the first `BENCHMARK_PREFIX` per level of the "processbench" split
    drawn with `benchmark_seed` (a prefix of any toy ProcessBench that notebook 04 builds with that seed).

    Why a seed of its own: the two splits are drawn independently, and short level-1 problems recur across them
    (about 0.3 % of the warm-up's problems are in a benchmark prefix), so leaving out the benchmark of the warm-up's
    own seed would leak some of 04's benchmark into the judge whenever stage 03 runs with another seed than 04."""
    from .toy_processbench import benchmark_prefix_texts
    from .world.problems import generate_problems

    excluded = set(exclude_texts) | benchmark_prefix_texts(benchmark_seed)
    return [p for p in generate_problems(seed, per_level, split="judge_warmup") if p.text not in excluded]


def _read_stamp(judge_init: Path) -> dict:
    stamp = read_json(Path(judge_init) / WARMUP_STAMP)
    # Stamps written before `benchmark_seed` existed left out the benchmark of the warm-up's own seed.
    stamp.setdefault("benchmark_seed", stamp["seed"])
    # ... and before `judge_warmup_glance_share` existed, no exercise was a rubber stamp.
    stamp.setdefault("judge_warmup_glance_share", 0.0)
    return stamp


def warmup_benchmark_overlap(judge_init: Path, benchmark_problems: Sequence[str]) -> list[str]:
    """The benchmark problems (texts) that the warm-up saved in `judge_init` trained on; empty for a judge init
    without a warm-up (the paper tier) or one whose warm-up left the benchmark out, as it should."""
    if not (Path(judge_init) / WARMUP_STAMP).exists():
        return []
    stamp = _read_stamp(judge_init)
    seen = {p.text for p in warmup_problems(stamp["seed"], stamp["judge_warmup_problems_per_level"],
                                            stamp["benchmark_seed"], stamp["exclude_texts"])}
    return sorted(set(benchmark_problems) & seen)


def warm_up_judge(init_dir: Path, cfg: JudgeTrainingConfig, run_dir: Path, exclude_texts: Sequence[str] = ()) -> Path:
    """The judge init of every run: `init_dir` itself, or (toy tier, `cfg.judge_warmup_steps` > 0) a copy SFT'd on
    generic judging exercises and saved under `<run_dir>/judge_init`, whose path is returned.

    Why (issue 4): the chunk policy's own judging skill, from 00's exercises, carries no signal on its chunks (it
    copies the chunk into its Check and answers Match by its prior), so GRPO had nothing to amplify. The exercises
    here teach the analysis `judge_warmup_style` names (toy: "lines") on teacher solutions with
    `judge_warmup_wrong_share` wrong chunks. They never see the policy's chunks or the rollout labels: the warmed
    judge is still the zero-shot baseline of every table.
    Problems whose text is in `exclude_texts`, or in notebook 04's benchmark (`warmup_problems`), are left out:
    the benchmark stays unseen.
    A judge init already saved there with the same warm-up settings (its `warmup.json`) is reused: a rerun resumes."""
    from .base_policy import judge_exercises

    if cfg.judge_warmup_steps <= 0:
        return Path(init_dir)
    out = Path(run_dir) / "judge_init"
    # Resume: a judge init saved by an earlier (e.g. interrupted) run of the same warm-up is reused, not retrained.
    # The init's weights are part of the stamp: a re-run of notebook 01 writes a new model at the same path.
    stamp = {"init_dir": str(init_dir), "init_weights": weights_digest(Path(init_dir)), "seed": cfg.seed,
             "benchmark_seed": cfg.benchmark_seed, "exclude_texts": sorted(set(exclude_texts)),
             **{k: v for k, v in vars(cfg).items() if k.startswith("judge_warmup_")}}
    if (out / "config.json").exists() and (out / WARMUP_STAMP).exists() and _read_stamp(out) == stamp:
        return out
    problems = warmup_problems(cfg.seed, cfg.judge_warmup_problems_per_level, cfg.benchmark_seed, exclude_texts)
    examples = judge_exercises(problems, random.Random(f"{cfg.seed}:judge_warmup"), cfg.judge_warmup_verdict_accuracy,
                               cfg.judge_warmup_blankline_share, direct_share=cfg.judge_warmup_direct_share,
                               wrong_share=cfg.judge_warmup_wrong_share, analysis_style=cfg.judge_warmup_style,
                               glance_share=cfg.judge_warmup_glance_share)
    model, tokenizer = load_model(init_dir)
    # completion_only_loss False, as in 00: predicting the prompt too keeps the model reading it
    settings = SFTSettings(cfg.judge_warmup_learning_rate, 32, cfg.judge_warmup_steps, completion_only_loss=False)
    history = sft_train(model, tokenizer, examples, settings, Path(run_dir) / "trainer" / "judge_warmup", cfg.seed)
    save_model(model, tokenizer, out)
    # Kept beside the init it describes. The loss is over whole sequences, so it hardly tells a warm-up that learnt
    # the line comparison from one that did not (final loss 0.166 for the AMD checkout's strong seed-0 init, 0.169
    # and 0.170 for its weak seeds 1 and 2); the benchmark does (docs/results.md, "Reproducibility, measured").
    atomic_write_text(out / WARMUP_LOG, pd.DataFrame(history).to_csv(index=False))
    atomic_write_json(out / WARMUP_STAMP, stamp)  # written last: a stamp means a complete judge init
    return out


# The stepwise datasets of notebook 02 each `segmentation` trains on. "both" is their union. 02 samples both
# policies on one prompt set, so the split by problem keeps each problem's chunks and blank-line pieces on one side;
# balancing is then over the union, per rule, and GRPO's step budget is unchanged.
STEPWISE_SETS = {"chunks": ("chunks",), "blankline": ("blankline",), "both": ("chunks", "blankline")}


def load_records(labels_dir: Path, segmentation: str) -> list[dict]:
    """Notebook 02's stepwise records that `segmentation` (`stages.JUDGE_SEGMENTATIONS`) trains on."""
    from datasets import load_from_disk

    if segmentation not in STEPWISE_SETS:
        raise ValueError(f"segmentation must be one of {tuple(STEPWISE_SETS)}, not {segmentation!r}")
    return [r for name in STEPWISE_SETS[segmentation]
            for r in load_from_disk(str(Path(labels_dir) / f"stepwise_{name}"))]


def load_split(labels_dir: Path, cfg: JudgeTrainingConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """Notebook 02's stepwise records for `cfg.segmentation`, split by problem: (training records, held-out records,
    the balanced held-out evaluation chunks; balanced by the exact truth, or by `cfg.ablation_rule`'s rollout label
    where the records carry none, as NuminaMath's do)."""
    records = load_records(labels_dir, cfg.segmentation)
    train, heldout = judge_stage.split_by_problem(records, cfg.heldout_share, cfg.seed)
    return train, heldout, judge_stage.eval_items(heldout, cfg.rules, cfg.eval_items_per_class, cfg.seed,
                                                  label_rule=cfg.ablation_rule)


def _after_error_share(items: Sequence[Mapping[str, Any]]) -> float:
    """Among Negative-labelled items, the share that comes after the trajectory's first true error (true_label None):
    chunks that may be right given their own (wrong) history, Negative only because the trajectory is lost."""
    negatives = [it for it in items if not it["label"]]
    return sum(it["true_label"] is None for it in negatives) / len(negatives) if negatives else float("nan")


def _truth_known(records: Sequence[Mapping[str, Any]]) -> bool:
    return any(judge_stage.has_truth(r) for r in records)


def balance_seed(cfg: JudgeTrainingConfig) -> int:
    """The seed of the balance draw (which items 50/50 balancing keeps): `grpo_balance_seed`, or `seed` at -1."""
    return cfg.seed if cfg.grpo_balance_seed < 0 else cfg.grpo_balance_seed


def training_sets(train_records: Sequence[Mapping[str, Any]], cfg: JudgeTrainingConfig
                  ) -> tuple[dict[str, list[dict]], dict[str, list[dict]], pd.DataFrame]:
    """Per rule: every training item, the balanced ones, and a table of both beside the paper's positive shares,
    with the share of balanced Negatives that come after the first true error (`max_steps_after_error` -1 keeps
    them; the held-out evaluation and ProcessBench never ask about such chunks)."""
    after = None if cfg.max_steps_after_error < 0 else cfg.max_steps_after_error
    items = {rule: judge_rl.judge_items_from_records(train_records, rule, after) for rule in cfg.rules}
    balanced = {rule: judge_rl.balance(its, balance_seed(cfg), cfg.balance, cfg.balance_positive_share)
                for rule, its in items.items()}
    table = pd.DataFrame([{"rule": r, "items": len(items[r]),
                           "positive_share": judge_rl.label_shares(items[r])["positive_share"],
                           "paper_positive_share": PAPER_POSITIVE_SHARE.get(r, float("nan")),
                           "items_after_balancing": len(balanced[r]),
                           # NaN without truth (NuminaMath), where every true_label is None
                           "negatives_after_first_error": _after_error_share(balanced[r])
                           if _truth_known(train_records) else float("nan")} for r in cfg.rules])
    return items, balanced, table


class HeldoutEvaluation:
    """Scores judges on the held-out items and keeps every verdict and, for generative judges, the faithfulness
    of each rationale (greedy decoding, as every single-sample evaluation here)."""

    def __init__(self, items: Sequence[dict], tokenizer: PreTrainedTokenizerBase, cfg: JudgeTrainingConfig):
        self.items, self.tokenizer, self.cfg = list(items), tokenizer, cfg
        self.scored: dict[str, pd.DataFrame] = {}
        self.faith_rows: list[dict] = []

    def generative(self, model: PreTrainedModel, cot: bool = True, n: int = 1,
                   temperature: float = 0.0) -> judges.GenerativeJudge:
        sampling = Sampling(self.cfg.max_completion_length, temperature, n, self.cfg.seed)
        generator = judges.judge_generator(model, self.tokenizer, sampling, self.cfg.gen_batch_size)
        return judges.GenerativeJudge(generator, self.tokenizer, self.cfg.judge_template, cot, sampling)

    def evaluate(self, name: str, judge: judges.StepJudge) -> dict[str, float]:
        self.scored[name] = judge_stage.evaluate_judge(judge, self.items, self.cfg.rules, name)
        if isinstance(judge, judges.GenerativeJudge):
            self.faith_rows.extend(faithfulness.faithfulness_rows(
                name, judge_stage.as_judge_items(self.items), [o[0] for o in judge.last_outputs]))
        return self.summary(name)

    def summary(self, name: str) -> dict[str, float]:
        return judge_stage.accuracy_summary(self.scored[name], self.cfg.rules)

    def verdicts(self) -> pd.DataFrame:
        return pd.concat(self.scored.values(), ignore_index=True)


class SavedJudges(MutableMapping):
    """Trained judges by name, held as their folders `folder/<name>` and loaded when read, one at a time.

    Every train_* function saves its judge there; keeping only the name lets the judge be freed as soon as it is
    trained. At toy scale that is nothing; at the paper's, six 7B judges do not fit in one GPU's memory together.
    Storing a model (`judges[name] = model`) records the name of one already saved; the model itself is dropped."""

    def __init__(self, folder: str | Path, names: Sequence[str] = ()):
        self.folder, self.names = Path(folder), []
        for name in names:
            self[name] = None

    def __setitem__(self, name: str, model: PreTrainedModel | None) -> None:
        if not (self.folder / name / "config.json").exists():
            raise FileNotFoundError(f"no saved judge {name!r} in {self.folder}")
        if name not in self.names:
            self.names.append(name)

    def __getitem__(self, name: str) -> PreTrainedModel:
        if name not in self.names:
            raise KeyError(name)
        return load_model(self.folder / name)[0]

    def __delitem__(self, name: str) -> None:
        self.names.remove(name)

    def __iter__(self):
        return iter(list(self.names))

    def __len__(self) -> int:
        return len(self.names)


def train_grpo_judge(name: str, rule: str, items: Sequence[dict], items_eval: Sequence[dict],
                     tokenizer: PreTrainedTokenizerBase, cfg: JudgeTrainingConfig, init_dir: Path, run_dir: Path,
                     cot: bool = True, epsilon_high: float | None = None, cot_reward: str = "cot",
                     first_error: Sequence[PBRecord] = (), decision_loss: bool = True, credit: str = "sequence"
                     ) -> tuple[PreTrainedModel, pd.DataFrame]:
    """One GRPO judge from the initial model on `items` (already balanced); returns it, saved, and its history
    (`history_frame` plus `run` and `eval_acc_label`, the held-out accuracy against its own rule)."""
    data = judge_rl.rl_dataset(items, tokenizer, cfg.judge_template, cot=cot, reference=cot_reward == "cot_reference")
    settings = judge_rl.GRPOSettings(
        learning_rate=cfg.learning_rate, max_steps=cfg.max_steps, batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        updates_per_generation=cfg.updates_per_generation, num_generations=cfg.num_generations,
        epsilon_low=cfg.epsilon_low,
        epsilon_high=cfg.epsilon_high if epsilon_high is None else epsilon_high, beta=cfg.beta,
        temperature=cfg.temperature, max_completion_length=cfg.max_completion_length,
        seed=cfg.seed if cfg.grpo_order_seed < 0 else cfg.grpo_order_seed,
        sampling_seed=None if cfg.grpo_sampling_seed < 0 else cfg.grpo_sampling_seed,
        use_vllm=cfg.grpo_use_vllm, vllm_gpu_memory_utilization=cfg.grpo_vllm_gpu_memory_utilization,
        save_every=cfg.grpo_save_every, sharding=cfg.grpo_sharding)
    eval_options = dict(items=items_eval, rules=cfg.rules, template=cfg.judge_template, cot=cot,
                        max_new_tokens=cfg.max_completion_length, batch_size=cfg.gen_batch_size, seed=cfg.seed,
                        first_error=first_error, engine=cfg.grpo_eval_isolated)
    train_options = dict(reward=cot_reward if cot else "direct", decision_loss=decision_loss, credit=credit,
                         isolate_eval_rng=cfg.grpo_eval_isolated)
    if cfg.grpo_num_processes > 1:  # one process per GPU, outside this kernel (launch.py)
        job = launch.GRPOJob(str(init_dir), data, settings, train_options, eval_options, cfg.eval_every)
        model, log, _ = launch.run_in_processes(job, cfg.grpo_num_processes, run_dir / "trainer" / name)
    else:
        model, _ = load_model(init_dir)
        eval_fn = judge_stage.generative_eval_fn(tokenizer, **eval_options)
        log = judge_rl.grpo_train(model, tokenizer, data, settings, run_dir / "trainer" / name, eval_fn=eval_fn,
                                  eval_every=cfg.eval_every, **train_options)
    frame = judge_rl.history_frame(log).assign(run=name)
    frame["eval_acc_label"] = frame.get(f"eval_acc_{rule}")
    save_model(model, tokenizer, run_dir / "judges" / name)
    return model, frame


def grpo_variant_options(variant: str, cfg: JudgeTrainingConfig) -> dict:
    """Options of `train_grpo_judge` for one GRPO variant: `stepwiser` (CoT, clip-higher), `no_clip_higher`
    (ε_high = ε_low, the symmetric PPO clip), `no_cot` (the verdict alone, format penalty), and variants that are
    NOT the paper's, experiments outside the stage (`tools/judge_experiment.py --variant V`):
    - `consistent_reward`: the verdict reward gated by the analysis's self-consistency
      (`judge_rl.consistent_cot_reward`); with the strict gate, `consistent_reward_strict`;
    - `consistency_shaped`: half the reward for a self-consistent analysis (`judge_rl.consistency_shaped_reward`);
    - `decision_free`: the paper's verdict reward, with the Match words and the boxed verdict left out of the loss
      (`judge_rl._decision_free_trainer`); `decision_free_strict`: the same loss with the strict gate's reward;
    - a diagnostic that reads the exact truth, `reference_reward`: 1 for the warm-up teacher's own judgment of the
      item (`judge_rl.reference_judgment_reward`); `reference_lines`, its credit per line (each redone line,
      quote, Match and the verdict paid on its own tokens, `judge_rl._line_credit_trainer`); and
      `reference_lines_balanced`, the same with wrong chunks' lines weighted as much as right ones'."""
    options = {"stepwiser": {}, "no_clip_higher": {"epsilon_high": cfg.epsilon_low}, "no_cot": {"cot": False},
               "consistent_reward": {"cot_reward": "cot_consistent"},
               "consistent_reward_strict": {"cot_reward": "cot_consistent_strict"},
               "consistency_shaped": {"cot_reward": "cot_consistency_shaped"},
               "reference_reward": {"cot_reward": "cot_reference"},
               "reference_lines": {"cot_reward": "cot_reference", "credit": "reference_lines"},
               "reference_lines_balanced": {"cot_reward": "cot_reference", "credit": "reference_lines_balanced"},
               "decision_free": {"decision_loss": False},
               "decision_free_strict": {"cot_reward": "cot_consistent_strict", "decision_loss": False}}
    if variant not in options:
        raise ValueError(f"unknown GRPO variant {variant!r}; expected one of {sorted(options)}")
    return options[variant]


def grpo_run_specs(cfg: JudgeTrainingConfig) -> list[tuple[str, str, dict]]:
    """The GRPO runs of the stage: (name, label rule, options of `train_grpo_judge`), StepWiser per rule first."""
    runs = [(f"stepwiser_{rule}", rule, grpo_variant_options("stepwiser", cfg)) for rule in cfg.rules]
    runs += [(v, cfg.ablation_rule, grpo_variant_options(v, cfg))
             for v, on in (("no_clip_higher", cfg.run_no_clip_higher), ("no_cot", cfg.run_no_cot)) if on]
    return runs


def train_grpo_judges(balanced: Mapping[str, Sequence[dict]], items_eval: Sequence[dict],
                      tokenizer: PreTrainedTokenizerBase, cfg: JudgeTrainingConfig, init_dir: Path,
                      run_dir: Path, first_error: Sequence[PBRecord] = ()
                      ) -> tuple[SavedJudges, pd.DataFrame]:
    """Every run of `grpo_run_specs`, one after the other; returns the judges (saved, loaded when read) and their
    histories, concatenated. `first_error`: held-out trajectories (`judge_stage.first_error_records`) scored at
    every evaluation."""
    trained, histories = SavedJudges(run_dir / "judges"), []
    for name, rule, options in grpo_run_specs(cfg):
        trained[name], frame = train_grpo_judge(name, rule, balanced[rule], items_eval, tokenizer, cfg, init_dir,
                                                run_dir, first_error=first_error, **options)
        histories.append(frame)
    return trained, pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()


def heldout_summary(evaluation: "HeldoutEvaluation", trained: Mapping[str, PreTrainedModel],
                    disc: Mapping[str, PreTrainedModel], tokenizer: PreTrainedTokenizerBase) -> pd.DataFrame:
    """One row per judge: first those already evaluated (the zero-shot one, and the init before the warm-up when
    there was one), then the trained ones (one model in memory at a time with `SavedJudges`); held-out accuracies
    and format rate."""
    rows = [{"judge": name, **evaluation.summary(name)} for name in evaluation.scored]
    rows += [{"judge": name, **evaluation.evaluate(name, evaluation.generative(model, cot=name != "no_cot"))}
             for name, model in trained.items()]
    rows += [{"judge": name, **evaluation.evaluate(name, judges.DiscriminativeJudge(model, tokenizer))}
             for name, model in disc.items()]
    return pd.DataFrame(rows)


def _sft_settings(cfg: JudgeTrainingConfig, steps: int) -> SFTSettings:
    return SFTSettings(cfg.sft_learning_rate, cfg.sft_batch_size, steps, completion_only_loss=True,
                       sharding=cfg.sft_sharding)


def train_rs_ft(items: Sequence[dict], evaluation: HeldoutEvaluation, init_model: PreTrainedModel,
                tokenizer: PreTrainedTokenizerBase, cfg: JudgeTrainingConfig, init_dir: Path,
                run_dir: Path) -> tuple[PreTrainedModel, int, int]:
    """RS-FT (paper Table 6, "− RL"): `rsft_samples` judgments at T = 1 from the initial judge on `rsft_items`
    training items, keep those whose verdict matches the label, fine-tune a fresh copy on them. Returns the judge
    (saved) and (kept, sampled) counts. With nothing kept (a judge that never writes a verdict) it stays untrained."""
    pool = random.Random(cfg.seed).sample(list(items), min(cfg.rsft_items, len(items)))
    queries = [judges.JudgeQuery(it["problem"], it["history"], it["chunk"]) for it in pool]
    sampler = evaluation.generative(init_model, n=cfg.rsft_samples, temperature=1.0)
    sampler.judge(queries)
    examples = judges.rs_ft_examples(queries, sampler.last_outputs, [it["label"] for it in pool], cfg.judge_template)
    if examples:
        model, _ = launch.fine_tune_copy(init_dir, examples, _sft_settings(cfg, cfg.rsft_max_steps),
                                         run_dir / "trainer" / "rs_ft", cfg.seed, cfg.sft_num_processes)
    else:
        model, _ = load_model(init_dir)
    save_model(model, tokenizer, run_dir / "judges" / "rs_ft")
    return model, len(examples), len(pool) * cfg.rsft_samples


def train_disc_sft(rule: str, train_records: Sequence[Mapping[str, Any]], tokenizer: PreTrainedTokenizerBase,
                   cfg: JudgeTrainingConfig, init_dir: Path, run_dir: Path) -> PreTrainedModel:
    """Discriminative + SFT (paper App. A.1) on `rule`'s labels, from the initial model; saved."""
    conversations = judges.disc_sft_examples(train_records, rule)
    if conversations:
        model, _ = launch.fine_tune_copy(init_dir, conversations, _sft_settings(cfg, cfg.disc_max_steps),
                                         run_dir / "trainer" / f"disc_sft_{rule}", cfg.seed, cfg.sft_num_processes,
                                         disc=True)
    else:
        model, _ = load_model(init_dir)
    save_model(model, tokenizer, run_dir / "judges" / f"disc_sft_{rule}")
    return model


def judge_registry(generative_names: Sequence[str], disc_names: Sequence[str], run_dir: Path, init_dir: Path,
                   ablation_rule: str) -> dict[str, dict]:
    """What notebook 04 evaluates: name -> path, kind ("cot", "direct" or "disc") and label rule."""
    def rule_of(name: str) -> str:
        return name.removeprefix("stepwiser_") if name.startswith("stepwiser_") else ablation_rule

    registry = {name: {"path": str(run_dir / "judges" / name), "kind": "direct" if name == "no_cot" else "cot",
                       "rule": rule_of(name)} for name in generative_names}
    registry.update({name: {"path": str(run_dir / "judges" / name), "kind": "disc",
                            "rule": name.removeprefix("disc_sft_")} for name in disc_names})
    registry["zero_shot"] = {"path": str(init_dir), "kind": "cot", "rule": None}
    return registry


def stage_metrics(cfg: JudgeTrainingConfig, summary: pd.DataFrame, history: pd.DataFrame,
                  balance_table: pd.DataFrame) -> dict[str, Any]:
    """metrics.json of stage 03: held-out accuracies per judge, each GRPO run's last reward / entropy /
    zero-advantage share, and the training-set sizes."""
    final = history.groupby("run").last(numeric_only=True)
    keys = ("acc_truth", "format_rate", *[f"acc_{x}" for x in cfg.rules])
    return {
        "tier": cfg.tier, "seed": cfg.seed, "segmentation": cfg.segmentation,
        "heldout_step_accuracy": {r["judge"]: {k: r[k] for k in keys} for r in summary.to_dict("records")},
        "grpo_final": {run: {k: float(final.loc[run, k]) for k in ("reward", "entropy", "zero_std_share")
                             if k in final} for run in final.index},
        "training_items": balance_table.to_dict("records"),
    }
