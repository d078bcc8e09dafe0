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
