"""Figures, each drawn from result tables (never from notebook state) and saved as PNG."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; notebooks display the saved PNGs
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from .io import atomic_write_bytes


def save_figure(fig: plt.Figure, path: str | Path) -> Path:
    """Save atomically as PNG and close the figure."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=130, bbox_inches="tight")
    plt.close(fig)
    atomic_write_bytes(Path(path), buf.getvalue())
    return Path(path)


def _no_data(fig: plt.Figure, ax: plt.Axes, path: str | Path) -> Path:
    """A figure that says there was nothing to plot (tiny smoke runs), instead of failing the stage."""
    ax.text(0.5, 0.5, "no data", ha="center", va="center")
    ax.set_axis_off()
    return save_figure(fig, path)


def training_curve(log_history: pd.DataFrame, path: str | Path, title: str = "SFT training loss") -> Path:
    """Loss against optimisation step (TRL's log history: columns `step`, `loss`)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.lineplot(data=log_history.dropna(subset=["loss"]), x="step", y="loss", ax=ax, marker="o", markersize=3)
    ax.set(title=title, xlabel="optimisation step", ylabel="loss (answer tokens)", yscale="log")
    return save_figure(fig, path)


def accuracy_by_level(summary: pd.DataFrame, path: str | Path) -> Path:
    """Problem accuracy per difficulty level, one bar per decoding mode (columns level, decoding, problem_accuracy)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.barplot(data=summary, x="level", y="problem_accuracy", hue="decoding", ax=ax)
    ax.set(title="Base policy: final-answer accuracy", xlabel="difficulty level", ylabel="accuracy", ylim=(0, 1))
    return save_figure(fig, path)


def error_kinds(shares: pd.DataFrame, path: str | Path) -> Path:
    """Share of wrong steps by kind (columns kind, share)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.barplot(data=shares, y="kind", x="share", ax=ax, color="tab:red")
    ax.set(title="What goes wrong (first errors, temperature 1)", xlabel="share of wrong steps", ylabel="")
    return save_figure(fig, path)


def judge_confusion(judged: pd.DataFrame, path: str | Path, title: str) -> Path:
    """Verdict counts against the true label (columns label, verdict; None = unparseable)."""
    fig, ax = plt.subplots(figsize=(4.5, 2.8))
    if len(judged):
        table = pd.crosstab(judged["label"].map({True: "correct chunk", False: "wrong chunk"}),
                            judged["verdict"].map({True: "Positive", False: "Negative"}).fillna("unparseable"))
        sns.heatmap(table, annot=True, fmt="d", cmap="Blues", cbar=False, ax=ax)
    else:
        ax.text(0.5, 0.5, "no items to judge", ha="center", va="center")
    ax.set(title=title, xlabel="verdict", ylabel="truth")
    return save_figure(fig, path)


def steps_histogram(stats: pd.DataFrame, path: str | Path) -> Path:
    """Distribution of steps per solution for each segmentation (columns segmentation, steps)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.histplot(data=stats, x="steps", hue="segmentation", discrete=True, stat="proportion", common_norm=False,
                 multiple="dodge", shrink=0.8, ax=ax)
    ax.set(title="Steps per solution", xlabel="steps", ylabel="share of solutions")
    return save_figure(fig, path)


def label_balance(balance: pd.DataFrame, path: str | Path) -> Path:
    """Positive share per rule, ours beside the paper's (columns rule, positive_share, paper)."""
    long = balance.melt(id_vars="rule", value_vars=["positive_share", "paper"], var_name="source", value_name="share")
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    sns.barplot(data=long.dropna(), x="rule", y="share", hue="source", ax=ax)
    ax.axhline(0.5, color="grey", lw=0.8, ls="--")
    ax.set(title="Share of Positive labels", xlabel="", ylabel="positive share", ylim=(0, 1))
    return save_figure(fig, path)


def q_distribution(qs: pd.DataFrame, path: str | Path) -> Path:
    """Histogram of intermediate Q̂ values by true status of the chunk (columns q, truth)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if qs.empty:
        return _no_data(fig, ax, path)
    sns.histplot(data=qs, x="q", hue="truth", bins=17, stat="proportion", common_norm=False, element="step", ax=ax)
    ax.set(title="Monte-Carlo Q̂ after a chunk (M=16)", xlabel="Q̂", ylabel="share of chunks")
    return save_figure(fig, path)


def agreement_vs_m(quality: pd.DataFrame, path: str | Path) -> Path:
    """Label agreement with the exact truth against the rollout budget M, one line per rule."""
    fig, ax = plt.subplots(figsize=(5.5, 3.2))
    if quality["agreement"].isna().all():
        return _no_data(fig, ax, path)
    sns.lineplot(data=quality, x="M", y="agreement", hue="rule", marker="o", ax=ax)
    ax.set(xscale="log", xticks=sorted(quality.M.unique()), xticklabels=sorted(quality.M.unique()),
           title="Monte-Carlo labels vs exact truth", xlabel="rollouts per chunk (M)", ylabel="agreement")
    return save_figure(fig, path)


def adaptive_tradeoff(tradeoff: pd.DataFrame, path: str | Path) -> Path:
    """Share of the fixed budget's rollouts used against agreement with its labels, one line per rule, one point
    per stopping confidence (columns rule, confidence, rollout_fraction_used, agreement_with_m16)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    data = tradeoff.dropna(subset=["rollout_fraction_used", "agreement_with_m16"])
    if data.empty:
        return _no_data(fig, ax, path)
    style = "stopping" if "stopping" in data and data["stopping"].nunique() > 1 else None
    sns.lineplot(data=data, x="rollout_fraction_used", y="agreement_with_m16", hue="rule", style=style, marker="o",
                 sort=True, ax=ax)
    for row in data.itertuples():
        ax.annotate(str(row.confidence), (row.rollout_fraction_used, row.agreement_with_m16), fontsize=6,
                    xytext=(3, -8), textcoords="offset points")
    ax.set(title="Adaptive rollout budget: cost vs agreement", xlabel="share of the fixed-M rollouts used",
           ylabel="agreement with fixed-M labels")
    return save_figure(fig, path)


def grpo_curves(history: pd.DataFrame, path: str | Path) -> Path:
    """GRPO training, one line per run (column `run`): reward, policy entropy, the share of groups whose
    verdicts all agree (zero advantage, TRL's frac_reward_zero_std), held-out step accuracy vs the truth and
    vs the run's own rollout labels (`eval_acc_truth`, `eval_acc_label`)."""
    panels = [("reward", "training reward"), ("entropy", "policy entropy (nats/token)"),
              ("zero_std_share", "groups with zero advantage"), ("eval_acc_truth", "held-out acc. vs truth"),
              ("eval_acc_label", "held-out acc. vs its labels")]
    panels = [(c, t) for c, t in panels if c in history and history[c].notna().any()]
    if not panels:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    fig, axes = plt.subplots(1, len(panels), figsize=(3.3 * len(panels), 3.0), squeeze=False)
    for ax, (col, title) in zip(axes[0], panels):
        data = history.dropna(subset=[col])
        if not col.startswith("eval"):  # noisy per-step training values: smooth a little
            data = data.assign(**{col: data.groupby("run")[col].transform(lambda s: s.rolling(5, min_periods=1).mean())})
        sns.lineplot(data=data, x="step", y=col, hue="run", ax=ax, legend=ax is axes[0][-1])
        ax.set(title=title, xlabel="GRPO step", ylabel="")
    if axes[0][-1].get_legend() is not None:
        sns.move_legend(axes[0][-1], "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    return save_figure(fig, path)


def judge_accuracy(summary: pd.DataFrame, path: str | Path, title: str = "Held-out step accuracy",
                   label_column: str = "") -> Path:
    """One bar per judge (columns judge, acc_truth), with the chance line at 0.5 (items are balanced). Without truth
    (NuminaMath: acc_truth all NaN), `label_column`, the accuracy against the rollout label the items are balanced by."""
    if summary.empty:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    column, against = "acc_truth", "the exact truth"
    if summary["acc_truth"].isna().all() and label_column in summary:
        column, against = label_column, f"the {label_column.removeprefix('acc_')} rollout labels"
    fig, ax = plt.subplots(figsize=(6, 0.35 * len(summary) + 1.2))
    sns.barplot(data=summary, y="judge", x=column, ax=ax, color="tab:blue")
    ax.axvline(0.5, color="grey", ls="--", lw=1)
    ax.set(title=title, xlabel=f"accuracy vs {against} (balanced items)", ylabel="", xlim=(0, 1))
    return save_figure(fig, path)


def processbench_f1(table: pd.DataFrame, path: str | Path) -> Path:
    """ProcessBench F1 per subset and judge (columns judge, subset, f1; the `average` subset included)."""
    table = table.dropna(subset=["f1"])  # a subset without correct (or erroneous) records has no F1
    if table.empty:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    sns.barplot(data=table, x="subset", y="f1", hue="judge", ax=ax)
    ax.set(title="Toy ProcessBench: F1 of first-error identification", xlabel="", ylabel="F1 (%)", ylim=(0, 100))
    sns.move_legend(ax, "upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    return save_figure(fig, path)


def search_accuracy(chunk_reset: pd.DataFrame, best_of_n: pd.DataFrame | None, path: str | Path) -> Path:
    """Notebook 05: per judge, chunk-reset accuracy and best-of-N accuracy (columns judge, accuracy, accuracy_se in
    both tables), with ±1 standard error; best-of-N's judge-free references (pass@1, majority, pass@N) as lines."""
    if chunk_reset.empty:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    judges = list(chunk_reset["judge"])
    parts = [("chunk-reset", chunk_reset.set_index("judge"))]
    if best_of_n is not None and len(best_of_n):
        parts.append(("best-of-N", best_of_n.set_index("judge")))
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(judges) + 1.4))
    height = 0.8 / len(parts)
    for k, (label, frame) in enumerate(parts):
        have = [j for j in judges if j in frame.index]
        rows = [judges.index(j) + (k - (len(parts) - 1) / 2) * height for j in have]
        ax.barh(rows, frame.loc[have, "accuracy"], height=height, xerr=frame.loc[have, "accuracy_se"], label=label,
                capsize=2)
    if len(parts) > 1:
        refs = parts[1][1]
        for name, style in (("majority", ":"), ("pass@1", "--")):
            if name in refs.index:
                ax.axvline(refs.loc[name, "accuracy"], color="grey", linestyle=style, linewidth=1,
                           label=f"{name} (no judge)")
    ax.set_yticks(range(len(judges)), judges)
    ax.invert_yaxis()
    ax.set(title="Judges at inference: final-answer accuracy", xlabel="accuracy", xlim=(0, 1))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    return save_figure(fig, path)


def data_selection(picked: pd.DataFrame, evaluated: pd.DataFrame, path: str | Path) -> Path:
    """Notebook 06: left, per selector, the share of its picks that hold a wrong step despite the right answer (toy
    only; columns selector, flawed, flawed_se); right, per policy, greedy and temperature-1 accuracy after fine-tuning
    (columns policy, greedy, greedy_se, sampled, sampled_se), ±1 standard error."""
    if evaluated.empty:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    has_flaws = "flawed" in picked and picked["flawed"].notna().any()
    policies = list(evaluated["policy"])
    fig, axes = plt.subplots(1, 2 if has_flaws else 1, figsize=(11 if has_flaws else 6, 0.35 * len(policies) + 1.4),
                             squeeze=False, sharey=has_flaws)
    if has_flaws:
        ax = axes[0, 0]
        frame = picked.set_index("selector")
        have = [p for p in policies if p in frame.index]
        ax.barh([policies.index(p) for p in have], frame.loc[have, "flawed"], xerr=frame.loc[have, "flawed_se"],
                color="tab:red", capsize=2)
        ax.set(title="Selected responses with a wrong step", xlabel="share of picks (right answer, wrong step)")
    ax = axes[0, -1]
    frame = evaluated.set_index("policy")
    parts = [c for c in ("greedy", "sampled") if c in frame]
    height = 0.8 / len(parts)
    for k, col in enumerate(parts):
        rows = [i + (k - (len(parts) - 1) / 2) * height for i in range(len(policies))]
        ax.barh(rows, frame[col], height=height, xerr=frame[f"{col}_se"], capsize=2,
                label="greedy" if col == "greedy" else "temperature 1")
    lo = min(frame[c].min() for c in parts)
    ax.set(title="Fine-tuned policy: final-answer accuracy", xlabel="accuracy", xlim=(max(0.0, lo - 0.1), 1))
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    axes[0, 0].set_yticks(range(len(policies)), policies)
    axes[0, 0].invert_yaxis()
    return save_figure(fig, path)


def selection_draws(draws: pd.DataFrame, path: str | Path, reference: str = "outcome") -> Path:
    """Notebook 06 over candidate draws (`selection.draw_summary`'s table): per selector, its temperature-1 accuracy
    change against `reference` in each draw (one dot each) and pooled over draws (a bar, ±2 standard errors over draws;
    over problems when there is one draw). The reference itself is left out (zero by construction)."""
    from .selection import draw_changes

    has_reference = reference in set(draws["policy"])
    # each draw's change against the reference (`selection.draw_changes`); without the reference, the bars alone
    frame = draw_changes(draws, reference) if has_reference else draws[draws["policy"] != reference]
    frame = frame.reset_index(drop=True)
    columns = [c for c in draws.columns if c.startswith("draw_")]
    if frame.empty or not columns:
        fig, ax = plt.subplots(figsize=(4, 2))
        return _no_data(fig, ax, path)
    fig, ax = plt.subplots(figsize=(7, 0.35 * len(frame) + 1.4))
    pooled, se = f"pooled_vs_{reference}", f"pooled_vs_{reference}_se_over_draws"
    over = "over draws"
    if se not in frame or frame[se].isna().all():  # one draw: only the standard error over problems
        se, over = f"pooled_vs_{reference}_se", "over problems"
    ax.barh(frame.index, frame[pooled], xerr=2 * frame[se], color="lightgray", capsize=2,
            label=f"pooled, ±2 s.e. {over}")
    colours = sns.color_palette("tab10", len(columns))
    for k, col in enumerate(columns if has_reference else []):
        ax.scatter(frame[col], frame.index, color=colours[k], s=18, zorder=3, label=col.replace("_", " "))
    ax.axvline(0, color="black", lw=0.8)
    ax.set_yticks(frame.index, frame["policy"])
    ax.invert_yaxis()
    ax.set(title=f"Fine-tuned policy, temperature 1: accuracy change against {reference}-based selection",
           xlabel=f"accuracy − {reference} (same draw)")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    return save_figure(fig, path)
