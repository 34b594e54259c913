"""Scripts/plots on data made by the real tailforge binary: each figure shows the numbers in the files (checked
against an independent h5py/json reading), and the CLI writes small PNGs atomically and fails clearly."""

import json
import os
import re

import h5py
import numpy as np
import pytest

from conftest import SCRIPTS, run_tool
from tailforge_py.accuracy_plot import accuracy_figure
from tailforge_py.atomic_output import atomic_output
from tailforge_py.class_count_plot import class_count_figure
from tailforge_py.evaluation_report import EvaluationReport
from tailforge_py.hdf5_files import BalancedFile, LabeledEmbeddings
from tailforge_py.kappa_plot import kappa_figure
from tailforge_py.projection_plot import projection_figure

PLOTS = os.path.join(SCRIPTS, "plots")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def plots(*args, check=True):
    return run_tool(PLOTS, *map(str, args), check=check)


def labels_of(path):
    with h5py.File(path, "r") as f:
        return f["labels"][()]


def test_class_count_figure_shows_the_input_and_balanced_counts_in_input_order(small_run):
    before = np.bincount(labels_of(small_run.train))
    with h5py.File(small_run.local, "r") as f:
        labels, synthetic = f["labels"][()], f["is_synthetic"][()].astype(bool)
    real_after, synthetic_after = np.bincount(labels[~synthetic]), np.bincount(labels[synthetic])
    order = np.argsort(-before, kind="stable")

    figure = class_count_figure(LabeledEmbeddings(small_run.train), BalancedFile(small_run.local))
    left, right = figure.axes
    assert [p.get_height() for p in left.patches] == list(before[order])
    real_bars, synthetic_bars = right.containers
    assert [p.get_height() for p in real_bars] == list(real_after[order])
    assert [p.get_height() for p in synthetic_bars] == list(synthetic_after[order])
    # Balancing to the largest class: every bar tops out at the same height.
    assert set(real_after + synthetic_after) == {before.max()}


def test_accuracy_figure_plots_each_class_at_its_training_count(small_run):
    reports = [EvaluationReport(small_run.plain_report), EvaluationReport(small_run.balanced_report)]
    figure = accuracy_figure(reports, ["unweighted", "balanced"])
    for panel, path in zip(figure.axes, (small_run.plain_report, small_run.balanced_report)):
        with open(path) as f:
            report = json.load(f)
        expected = sorted((c["trainingSamples"], round(100 * c["accuracy"], 6)) for c in report["perClass"])
        shown = sorted((x, round(y, 6)) for collection in panel.collections for x, y in collection.get_offsets())
        assert shown == expected
        assert f"{100 * report['top1Accuracy']:.1f} %" in panel.get_title()


def test_accuracy_takes_training_counts_from_the_training_file_when_the_report_has_none(small_run):
    with pytest.raises(Exception, match="--train"):
        EvaluationReport(small_run.nocounts_report)
    counts = LabeledEmbeddings(small_run.train).counts()
    report = EvaluationReport(small_run.nocounts_report, training_counts=counts)
    assert list(report.training_counts) == list(EvaluationReport(small_run.plain_report).training_counts)


def test_kappa_figure_counts_every_synthetic_row_once_and_marks_the_median(small_run):
    files = [BalancedFile(small_run.local), BalancedFile(small_run.klass)]
    figure = kappa_figure(files, ["local", "class"])
    for panel, path in zip(figure.axes, (small_run.local, small_run.klass)):
        with h5py.File(path, "r") as f:
            kappa = f["kappa"][()][f["is_synthetic"][()] == 1].astype(np.float64)
        assert sum(p.get_height() for p in panel.patches) == kappa.size
        assert panel.lines[0].get_xdata()[0] == pytest.approx(np.median(kappa))
    # One κ per class under the class policy: as many distinct values as classes that got synthetic rows.
    with h5py.File(small_run.klass, "r") as f:
        topped_up = np.unique(f["labels"][()][f["is_synthetic"][()] == 1]).size
    assert f"{topped_up} distinct κ values" in figure.axes[1].get_title(loc="left")


def test_projection_shows_the_smallest_few_shot_class_among_its_nearest_classes(small_run):
    with h5py.File(small_run.local, "r") as f:
        labels, synthetic, x = f["labels"][()], f["is_synthetic"][()].astype(bool), f["embeddings"][()]
        names = [n.decode() for n in f["class_names"][()]]
    real_counts = np.bincount(labels[~synthetic])
    smallest = int(np.argmin(np.where(np.bincount(labels[synthetic], minlength=len(real_counts)) > 0, real_counts, 10**9)))
    means = np.array([x[(labels == c) & ~synthetic].astype(np.float64).mean(axis=0) for c in range(len(real_counts))])
    means /= np.linalg.norm(means, axis=1, keepdims=True)
    similarity = means @ means[smallest]
    similarity[smallest] = -np.inf
    nearest = [names[c] for c in np.argsort(-similarity)[:3]]

    figure = projection_figure(BalancedFile(small_run.local), neighbours=3, max_points=50,
                               test=LabeledEmbeddings(small_run.test))
    series = {c.get_label(): len(c.get_offsets()) for c in figure.axes[0].collections}
    assert series[f"{names[smallest]}: real ({real_counts[smallest]})"] == real_counts[smallest]
    assert series[f"{names[smallest]}: test (50)"] == 50
    synthetic_label = next(k for k in series if k.startswith(f"{names[smallest]}: synthetic"))
    assert series[synthetic_label] == min(50, int(np.sum(labels[synthetic] == smallest)))
    shown_neighbours = [k.split(" (real")[0] for k in series if "(real, cos" in k]
    assert shown_neighbours == nearest
    assert "test-row class means" in figure.axes[0].get_xlabel()


def test_projection_class_can_be_chosen_by_id_or_name_and_a_wrong_one_is_refused(small_run):
    balanced = BalancedFile(small_run.local)
    by_id = projection_figure(balanced, requested_class="3", neighbours=2)
    by_name = projection_figure(balanced, requested_class=balanced.name(3), neighbours=2)
    assert by_id.axes[0].get_title(loc="left") == by_name.axes[0].get_title(loc="left")
    assert "(class 3)" in by_id.axes[0].get_title(loc="left")
    assert "real-row class means" in by_id.axes[0].get_xlabel()  # without a test file the axes come from real rows
    with pytest.raises(Exception, match="not a class id"):
        projection_figure(balanced, requested_class="no-such-class")


def test_plots_all_writes_four_small_pngs_and_leaves_no_temporary_files(small_run, tmp_path):
    out = tmp_path / "figures"
    result = plots("all", "--input", small_run.train, "--balanced", small_run.local, small_run.klass,
                   "--reports", small_run.plain_report, small_run.balanced_report, "--names", "unweighted", "vMF",
                   "--test", small_run.test, "--out-dir", out)
    names = ["counts.png", "accuracy.png", "kappa.png", "projection.png"]
    assert result.stdout.split() == [str(out / n) for n in names]
    assert sorted(os.listdir(out)) == sorted(names)
    for name in names:
        data = (out / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert 5_000 < len(data) < 200_000


def test_each_subcommand_writes_its_png_and_replaces_an_existing_one(small_run, tmp_path):
    output = tmp_path / "figure.png"
    output.write_bytes(b"old")
    for args in (["counts", small_run.train, small_run.local],
                 ["accuracy", small_run.plain_report, small_run.nocounts_report, "--train", small_run.train],
                 ["kappa", small_run.local],
                 ["projection", small_run.klass, "--class", "0", "--neighbours", "1"]):
        plots(*args, "-o", output)
        assert output.read_bytes().startswith(PNG_SIGNATURE)
        output.write_bytes(b"old")
    assert os.listdir(tmp_path) == ["figure.png"]


@pytest.mark.parametrize("args, message", [
    (["counts", "missing.h5", "{local}"], r"input file missing\.h5 does not exist"),
    (["counts", "{train}", "{train}"], r"has no /is_synthetic: it is not a balanced file"),
    (["kappa", "{smote}"], r"no synthetic rows with a κ .*SMOTE"),
    (["projection", "{compact}"], r"is a compact balanced file .*tailforge materialize"),
    (["accuracy", "{plain}", "{nocounts}"], r"has no training counts.*--train"),
    (["accuracy", "{plain}", "{train}"], r"is not readable JSON"),
    (["projection", "{local}", "--neighbours", "9"], r"--neighbours 9: allowed 1…8"),
    (["projection", "{local}", "--class", "99"], r"--class 99: not a class id below 20"),
    (["kappa", "{local}", "--names", "a", "b"], r"--names gives 2 names for 1 balanced files"),
])
def test_bad_input_is_a_clear_error_with_status_1_and_no_output(small_run, tmp_path, args, message):
    files = {"local": small_run.local, "train": small_run.train, "smote": small_run.smote, "compact": small_run.compact,
             "plain": small_run.plain_report, "nocounts": small_run.nocounts_report}
    output = tmp_path / "figure.png"
    result = plots(*[a.format(**files) for a in args], "-o", output, check=False)
    assert result.returncode == 1, result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr
    assert not output.exists() and os.listdir(tmp_path) == []


def test_an_output_that_is_an_input_is_refused_before_any_work(small_run, tmp_path):
    report = tmp_path / "report.json"
    report.write_bytes(open(small_run.plain_report, "rb").read())
    before = report.read_bytes()
    result = plots("accuracy", report, small_run.balanced_report, "-o", tmp_path / "." / "report.json", check=False)
    assert result.returncode == 1 and "is also an input" in result.stderr
    assert report.read_bytes() == before


def test_a_missing_output_directory_is_an_error(small_run, tmp_path):
    result = plots("kappa", small_run.local, "-o", tmp_path / "no" / "such" / "k.png", check=False)
    assert result.returncode == 1 and "does not exist: create it first" in result.stderr


def test_an_interrupted_write_leaves_neither_the_output_nor_a_temporary_file(tmp_path):
    target = tmp_path / "figure.png"
    with pytest.raises(KeyboardInterrupt):
        with atomic_output(str(target)) as temporary:
            open(temporary, "wb").write(b"half a picture")
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_help_needs_no_plotting_packages():
    result = run_tool(PLOTS, "--help")
    for command in ("counts", "accuracy", "kappa", "projection", "all"):
        assert command in result.stdout
