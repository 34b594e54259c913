"""(a) Class counts before and after balancing: the long-tailed input's per-class rows next to the balanced
file's real and synthetic rows, classes in the input's order from largest to smallest."""

import numpy as np
from matplotlib.ticker import MaxNLocator

from .figure_output import new_figure
from .tool_error import ToolError


def class_count_figure(input_file, balanced):
    before = input_file.counts()
    real, synthetic = balanced.real_counts(), balanced.synthetic_counts()
    if len(before) > len(real):
        raise ToolError(f"{input_file.path} has {len(before)} classes but {balanced.path} has {len(real)}: "
                        f"is {balanced.path} the balanced output of {input_file.path}?")
    before = np.pad(before, (0, len(real) - len(before)))
    if real.sum() > before.sum():
        raise ToolError(f"{balanced.path} has {real.sum()} real rows, more than the {before.sum()} rows of "
                        f"{input_file.path}: is it the balanced output of that file?")
    order = np.argsort(-before, kind="stable")
    x = np.arange(len(order))
    figure, (left, right) = new_figure(10, 3.6, ncols=2, sharey=True)
    width = 1.0 if len(order) > 40 else 0.8
    left.bar(x, before[order], width=width, color="#555555", linewidth=0)
    left.set_title(f"before: {before.sum():,} rows, {before.max():,} → {before[before > 0].min() if (before > 0).any() else 0:,} per class")
    right.bar(x, real[order], width=width, color="#555555", linewidth=0, label="real")
    right.bar(x, synthetic[order], bottom=real[order], width=width, color="#ff7f0e", linewidth=0, label="synthetic")
    right.set_title(f"after ({balanced.policy_label()}): {real.sum() + synthetic.sum():,} rows, "
                    f"{synthetic.sum():,} synthetic")
    right.legend(frameon=True, framealpha=0.9, edgecolor="none", loc="upper center", ncols=2)
    right.set_ylim(0, max(before.max(), (real + synthetic).max()) * 1.12)  # room for the legend above the bars
    for axes in (left, right):
        axes.set_xlabel("class rank by long-tailed training count (0 = largest)")
        axes.set_xlim(-0.5, len(order) - 0.5)
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    left.set_ylabel("rows per class")
    figure.suptitle(f"Class counts before and after balancing ({len(order)} classes)", fontsize=11)
    return figure
