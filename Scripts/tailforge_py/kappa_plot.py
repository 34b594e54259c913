"""(c) Histogram of the vMF (or Gaussian) concentration κ of the synthetic rows, one panel per balancing
policy, on a log axis: where the kernels sit tells how tightly synthetic rows hug their seeds."""

import numpy as np
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from .figure_output import new_figure
from .tool_error import ToolError


def kappa_figure(balanced_files, names):
    samples = []
    for balanced, name in zip(balanced_files, names):
        kappa = balanced.kappa[balanced.is_synthetic & (balanced.kappa > 0)]
        if kappa.size == 0:
            raise ToolError(f"{balanced.path} has no synthetic rows with a κ (sampler "
                            f"{balanced.attributes.get('sampler', '?')}: SMOTE and `none` use none): leave it out")
        samples.append((balanced, name, kappa))
    low = min(k.min() for _, _, k in samples)
    high = max(k.max() for _, _, k in samples)
    edges = np.logspace(np.log10(low) - 0.05, np.log10(high) + 0.05, 60)
    figure, axes = new_figure(7.5, 1.2 + 1.6 * len(samples), nrows=len(samples), sharex=True, squeeze=False)
    for panel, (balanced, name, kappa) in zip(axes[:, 0], samples):
        panel.hist(kappa, bins=edges, color="#1f77b4", alpha=0.85)
        median = float(np.median(kappa))
        panel.axvline(median, color="#d62728", linewidth=1.5)
        panel.text(median, panel.get_ylim()[1] * 0.92, f" median {median:,.0f}", color="#d62728", va="top")
        seeds = np.unique(balanced.kappa[balanced.is_synthetic & (balanced.kappa > 0)]).size
        panel.set_title(f"{name}: {kappa.size:,} synthetic rows, {seeds:,} distinct κ values", loc="left")
        panel.set_ylabel("rows")
    axes[-1, 0].set_xscale("log")
    axes[-1, 0].xaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
    axes[-1, 0].xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
    axes[-1, 0].xaxis.set_minor_formatter(NullFormatter())
    axes[-1, 0].set_xlabel("κ of the kernel a synthetic row was drawn from (log scale)")
    figure.suptitle("Concentration κ per balancing policy", fontsize=11)
    return figure
