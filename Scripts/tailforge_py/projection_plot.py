"""(d) A 2-D PCA projection of one few-shot class's real and synthetic rows among the real rows of its
nearest classes (by cosine similarity of class means), optionally with test rows: shows whether synthetic
rows cover where the class's test rows lie or drift into its neighbours."""

import numpy as np

from .figure_output import new_figure
from .hdf5_files import unit_rows
from .tool_error import ToolError

NEIGHBOUR_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]


def resolve_class(balanced, requested):
    """A class id from `--class` (an id or a class name), or by default the few-shot class (< 20 real
    rows, at least 2) with the fewest real rows that got synthetic rows; ties go to the lowest id."""
    real, synthetic = balanced.real_counts(), balanced.synthetic_counts()
    if requested is not None:
        if requested.isdigit() and int(requested) < balanced.classes:
            c = int(requested)
        elif balanced.class_names and requested in balanced.class_names:
            c = balanced.class_names.index(requested)
        else:
            raise ToolError(f"--class {requested}: not a class id below {balanced.classes} nor a class name of {balanced.path}")
        if real[c] == 0:
            raise ToolError(f"class {c} ({balanced.name(c)}) has no real rows in {balanced.path}: choose another --class")
        return c
    candidates = [c for c in range(balanced.classes) if real[c] >= 2 and synthetic[c] > 0]
    if not candidates:
        raise ToolError(f"{balanced.path} has no class with ≥ 2 real rows and synthetic rows: pass --class")
    few = [c for c in candidates if real[c] < 20] or candidates
    return min(few, key=lambda c: (real[c], c))


def class_means(balanced):
    """Unit mean direction of each class's real rows (zeros for a class without real rows)."""
    means = np.zeros((balanced.classes, balanced.embeddings.shape[1]))
    for c in range(balanced.classes):
        rows = balanced.class_rows(c, synthetic=False)
        if rows.size:
            means[c] = balanced.read_rows(rows).mean(axis=0)
    return unit_rows(means)


def subsample(indices, limit, rng):
    return indices if indices.size <= limit else np.sort(rng.choice(indices, size=limit, replace=False))


def projection_figure(balanced, requested_class=None, neighbours=5, max_points=300, seed=0, test=None):
    c = resolve_class(balanced, requested_class)
    means = class_means(balanced)
    similarity = means @ means[c]
    similarity[c] = -np.inf
    similarity[~means.any(axis=1)] = -np.inf
    neighbour_ids = [int(n) for n in np.argsort(-similarity, kind="stable")[:neighbours] if np.isfinite(similarity[n])]
    rng = np.random.default_rng(seed)
    real = balanced.read_rows(balanced.class_rows(c, synthetic=False))
    synthetic = balanced.read_rows(subsample(balanced.class_rows(c, synthetic=True), max_points, rng))
    others = [balanced.read_rows(subsample(balanced.class_rows(n, synthetic=False), max_points, rng)) for n in neighbour_ids]
    test_rows, neighbour_tests = None, [None] * len(neighbour_ids)
    if test is not None:
        if test.embeddings.shape[1] != balanced.embeddings.shape[1]:
            raise ToolError(f"test file {test.path} has dimension {test.embeddings.shape[1]}, {balanced.path} has "
                            f"{balanced.embeddings.shape[1]}")

        def test_rows_of(k):
            rows = subsample(np.flatnonzero(test.labels == k), max_points, rng)
            return unit_rows(test.embeddings[rows].astype(np.float64)) if rows.size else None

        test_rows = test_rows_of(c)
        neighbour_tests = [test_rows_of(n) for n in neighbour_ids]

    # The axes are the principal directions of the shown classes' means: between-class structure. They come from
    # the test rows when given (100 a class: accurate means, and independent of every training row drawn), else
    # from the real rows. Axes fitted to the plotted rows favour the directions of their own noise and push
    # exactly those rows outward (with 5 rows a class the effect is large), a picture of the fit, not the data.
    tests = [test_rows] + neighbour_tests
    from_test = all(t is not None and len(t) >= 2 for t in tests)
    groups = tests if from_test else [real] + others
    class_centres = np.array([g.mean(axis=0) for g in groups])
    centre = class_centres.mean(axis=0)
    _, singular, basis = np.linalg.svd(class_centres - centre, full_matrices=False)
    explained = singular[:2] ** 2 / np.sum(singular ** 2)
    axes_source = "test-row" if from_test else "real-row"

    def project(x):
        return (x - centre) @ basis[:2].T

    figure, axes = new_figure(6.4, 5.2)
    for n, rows, tests, colour in zip(neighbour_ids, others, neighbour_tests, NEIGHBOUR_COLOURS * 4):
        p = project(rows)
        axes.scatter(p[:, 0], p[:, 1], s=14, color=colour, alpha=0.8, linewidths=0,
                     label=f"{balanced.name(n)} (real, cos {means[n] @ means[c]:.2f})")
        if tests is not None:  # where the neighbour's class really lies, beyond its few real rows
            p = project(tests)
            axes.scatter(p[:, 0], p[:, 1], s=6, color=colour, alpha=0.3, linewidths=0, label=f"_{balanced.name(n)} test")
    if len(synthetic):
        p = project(synthetic)
        axes.scatter(p[:, 0], p[:, 1], s=9, color="#ff7f0e", alpha=0.55, linewidths=0,
                     label=f"{balanced.name(c)}: synthetic ({len(synthetic)} shown of {balanced.synthetic_counts()[c]:,})")
    if test_rows is not None:
        p = project(test_rows)
        axes.scatter(p[:, 0], p[:, 1], s=22, facecolors="none", edgecolors="#000000", linewidths=0.8,
                     label=f"{balanced.name(c)}: test ({len(test_rows)})")
    p = project(real)
    axes.scatter(p[:, 0], p[:, 1], s=90, marker="*", color="#d62728", edgecolors="#000000", linewidths=0.6,
                 label=f"{balanced.name(c)}: real ({len(real)})", zorder=5)
    axes.set_xlabel(f"PC 1 of the {axes_source} class means ({100 * explained[0]:.0f} % of their spread)")
    axes.set_ylabel(f"PC 2 ({100 * explained[1]:.0f} %)")
    axes.set_title(f"{balanced.name(c)} (class {c}) among its {len(neighbour_ids)} nearest classes — "
                   f"{balanced.policy_label()}", loc="left")
    axes.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5),
                title="small faint dots: neighbours' test rows" if test is not None else None, title_fontsize=7)
    return figure
