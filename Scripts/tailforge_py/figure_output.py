"""Shared look of the plots and how a figure reaches disk (atomically, as a PNG small enough for a README)."""

import matplotlib

matplotlib.use("Agg")  # files only: no display is needed or wanted, also on a desktop
import matplotlib.pyplot as plt  # noqa: E402

from .atomic_output import atomic_output  # noqa: E402

# The long-tail literature's shot groups by long-tailed training count (TailForge's Evaluation.ShotGroup).
GROUP_COLOURS = {"many": "#1f77b4", "medium": "#2ca02c", "few": "#d62728"}


def shot_group(training_count):
    return "many" if training_count > 100 else "medium" if training_count >= 20 else "few"


def new_figure(width, height, **kwargs):
    plt.rcParams.update({"font.size": 9, "axes.titlesize": 10, "axes.spines.top": False, "axes.spines.right": False})
    return plt.subplots(figsize=(width, height), **kwargs)


def save_figure(figure, path, dpi=110):
    """Writes `figure` to `path` as PNG under a temporary name, then closes it."""
    try:
        with atomic_output(path) as temporary:
            figure.savefig(temporary, format="png", dpi=dpi, bbox_inches="tight")
    finally:
        plt.close(figure)
    return path
