"""(b) Per-class test accuracy against long-tailed training count, two models side by side."""

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .figure_output import GROUP_COLOURS, new_figure, shot_group
from .tool_error import ToolError


def accuracy_figure(reports, names):
    if len(reports) != 2 or len(names) != 2:
        raise ToolError("the accuracy plot compares exactly two reports")
    if len(reports[0].accuracy) != len(reports[1].accuracy):
        raise ToolError(f"{reports[0].path} has {len(reports[0].accuracy)} classes, {reports[1].path} has "
                        f"{len(reports[1].accuracy)}: compare models of the same classes")
    figure, axes = new_figure(10, 3.8, ncols=2, sharey=True, sharex=True)
    for panel, report, name in zip(axes, reports, names):
        counts = np.maximum(report.training_counts, 1)  # a class without training rows sits at 1 on the log axis
        groups = np.array([shot_group(n) for n in report.training_counts])
        for group, colour in GROUP_COLOURS.items():
            members = (groups == group) & ~np.isnan(report.accuracy)
            if not members.any():
                continue
            panel.scatter(counts[members], 100 * report.accuracy[members], s=14, color=colour, alpha=0.75,
                          linewidths=0, label=f"{group}-shot ({members.sum()} classes)")
            mean = 100 * np.mean(report.accuracy[members])
            low, high = counts[members].min(), counts[members].max()
            panel.plot([low, high], [mean, mean], color=colour, linewidth=2)
        for boundary in (20, 100):
            panel.axvline(boundary, color="#999999", linestyle=":", linewidth=1)
        panel.set_xscale("log")
        panel.xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        panel.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
        panel.xaxis.set_minor_formatter(NullFormatter())
        panel.set_xlabel("long-tailed training rows of the class")
        few = report.few_shot_accuracy()
        # The model's name on its own line: a long name ("generative vMF mixture + calibrate") and its figures on one
        # line ran into the other panel's title.
        title = f"{name}\ntop-1 {100 * report.top1:.1f} %"
        if few is not None:
            title += f", few-shot {100 * few:.1f} %"
        if report.tau is not None:
            title += f", τ = {report.tau:g}"
        panel.set_title(title, fontsize=10)
        panel.set_ylim(-3, 103)
    axes[0].set_ylabel("test accuracy of the class (%)")
    # Below the panels: inside, it would hide the points of one of them.
    handles, labels = axes[0].get_legend_handles_labels()
    figure.legend(handles, labels, frameon=False, loc="lower center", ncols=3, bbox_to_anchor=(0.5, -0.11))
    # Above the two-line panel titles (savefig's tight box takes it in).
    figure.suptitle("Per-class accuracy against training count (lines: group means)", fontsize=11, y=1.07)
    return figure
