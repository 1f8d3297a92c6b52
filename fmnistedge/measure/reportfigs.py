"""Figures for ``fmnistedge report`` (matplotlib, headless). Each function writes one PNG atomically."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from fmnistedge import fileio
from fmnistedge.errors import MissingExtraError
from fmnistedge.labels import LABELS, SHORT_LABELS

SHORT = list(SHORT_LABELS)


def plt(purpose: str = "Reports"):
    """matplotlib.pyplot (headless), or say which extra to install for ``purpose``."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as pyplot
    except ImportError:
        raise MissingExtraError("matplotlib", "report", purpose) from None
    return pyplot


def save(fig, path: Path, **savefig_options) -> None:
    """Write ``fig`` as a PNG atomically and close it."""
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", **savefig_options)
    plt().close(fig)


def _save(fig, path: Path) -> None:
    save(fig, path, dpi=100, bbox_inches="tight")


def curves(history: dict, best_epoch: int | None, title: str, path: Path) -> None:
    """Accuracy and loss per epoch, train vs validation, best validation epoch marked."""
    p = plt()
    fig, axes = p.subplots(1, 2, figsize=(11, 4))
    epochs = np.arange(1, len(history["loss"]) + 1)
    for ax, key, name in ((axes[0], "accuracy", "accuracy"), (axes[1], "loss", "loss")):
        ax.plot(epochs, history[key], "o-", ms=3, label=f"train {name}")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "s-", ms=3, label=f"validation {name}")
        if best_epoch:
            ax.axvline(best_epoch, color="gray", ls="--", lw=1, label=f"best validation epoch ({best_epoch})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title)
    _save(fig, path)


def confusion(cm: np.ndarray, title: str, path: Path) -> None:
    """Counts and row-normalized confusion matrices side by side."""
    p = plt()
    fig, axes = p.subplots(1, 2, figsize=(14, 6))
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    for ax, mat, name, fmt in ((axes[0], cm, "counts", "d"), (axes[1], norm, "row-normalized", ".2f")):
        ax.imshow(mat, cmap="Blues")
        for i in range(10):
            for j in range(10):
                v = mat[i, j]
                ax.text(j, i, format(v, fmt), ha="center", va="center", fontsize=7,
                        color="white" if v > mat.max() * 0.6 else "black")
        ax.set_xticks(range(10), SHORT, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(10), SHORT, fontsize=8)
        ax.set_xlabel("predicted")
        ax.set_ylabel("true")
        ax.set_title(name)
    fig.suptitle(title)
    _save(fig, path)


def per_class_bars(per_class: dict[str, float], title: str, path: Path) -> None:
    p = plt()
    fig, ax = p.subplots(figsize=(9, 3.5))
    values = [100 * per_class[label] for label in LABELS]
    ax.bar(SHORT, values, color="tab:blue")
    for i, v in enumerate(values):
        ax.text(i, v + 0.5, f"{v:.1f}", ha="center", fontsize=8)
    ax.set_ylim(min(values) - 10, 101)
    ax.set_ylabel("test accuracy, %")
    ax.set_title(title)
    _save(fig, path)


def gallery(images: np.ndarray, true: np.ndarray, pred: np.ndarray, conf: np.ndarray,
            picks: list[int], title: str, path: Path, cols: int = 8) -> None:
    p = plt()
    rows = max(1, -(-len(picks) // cols))
    fig, axes = p.subplots(rows, cols, figsize=(cols * 1.5, rows * 1.8))
    for ax in np.atleast_1d(axes).ravel():
        ax.axis("off")
    for ax, i in zip(np.atleast_1d(axes).ravel(), picks):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ok = true[i] == pred[i]
        ax.set_title(f"{SHORT[true[i]]}\n-> {SHORT[pred[i]]} {100 * conf[i]:.0f}%", fontsize=7,
                     color="green" if ok else "red")
    fig.suptitle(title)
    _save(fig, path)


def embeddings(pca: np.ndarray, tsne: np.ndarray, labels_pca: np.ndarray, labels_tsne: np.ndarray,
               title: str, path: Path) -> None:
    p = plt()
    fig, axes = p.subplots(1, 2, figsize=(13, 6))
    for ax, pts, lab, name in ((axes[0], pca, labels_pca, f"PCA ({len(pca)} test images)"),
                               (axes[1], tsne, labels_tsne, f"t-SNE ({len(tsne)} test images)")):
        for c in range(10):
            sel = lab == c
            ax.scatter(pts[sel, 0], pts[sel, 1], s=3, alpha=0.6, label=SHORT[c])
        ax.set_title(name)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[1].legend(markerscale=4, fontsize=8, loc="center left", bbox_to_anchor=(1, 0.5))
    fig.suptitle(title)
    _save(fig, path)


def confusion_grid(matrices: dict[str, np.ndarray], reference: np.ndarray, title: str, path: Path) -> None:
    """One row per exported file: its confusion matrix and its difference from Keras'."""
    p = plt()
    n = len(matrices)
    fig, axes = p.subplots(n, 2, figsize=(11, 4.6 * n), squeeze=False)
    for row, (name, cm) in enumerate(matrices.items()):
        diff = cm - reference
        for ax, mat, sub, cmap in ((axes[row, 0], cm, name, "Blues"),
                                   (axes[row, 1], diff, f"{name} minus Keras", "RdBu")):
            lim = max(1, np.abs(mat).max())
            ax.imshow(mat, cmap=cmap, vmin=-lim if cmap == "RdBu" else 0, vmax=lim)
            for i in range(10):
                for j in range(10):
                    if mat[i, j]:
                        ax.text(j, i, str(mat[i, j]), ha="center", va="center", fontsize=6)
            ax.set_xticks(range(10), SHORT, rotation=45, ha="right", fontsize=7)
            ax.set_yticks(range(10), SHORT, fontsize=7)
            ax.set_title(sub, fontsize=9)
    fig.suptitle(title)
    _save(fig, path)


def rejection_curve(curve: list[dict], chosen: float, title: str, path: Path, goal: tuple[float, float] | None = None) -> None:
    """The "none of these" trade-off: 'none' photos rejected against labelled photos
    wrongly rejected, one point per threshold, the chosen threshold marked."""
    p = plt()
    fig, ax = p.subplots(figsize=(6, 4.5))
    known = [100 * c["known_rejected"] for c in curve]
    none = [100 * c["none_rejected"] for c in curve]
    ax.plot(known, none, marker=".", color="tab:blue")
    at = min(curve, key=lambda c: abs(c["threshold"] - chosen))
    ax.plot([100 * at["known_rejected"]], [100 * at["none_rejected"]], "o", color="tab:red",
            label=f"chosen threshold {100 * chosen:.0f}%")
    if goal is not None:
        ax.axvline(100 * goal[0], color="gray", ls="--", lw=0.8)
        ax.axhline(100 * goal[1], color="gray", ls="--", lw=0.8, label="goal")
    ax.set_xlabel("labelled photos wrongly rejected (%)")
    ax.set_ylabel("'none' photos rejected (%)")
    ax.set_xlim(0, 100)
    ax.set_ylim(0, 100)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    ax.set_title(title, fontsize=9)
    _save(fig, path)
