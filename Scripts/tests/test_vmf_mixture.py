"""`train --classifier vmf-mixture`'s model file read with h5py alone: each class's log density log p(x | c), computed
from the file's datasets with bayes_bound's vMF normaliser and the posterior-predictive formula the model stores
(a log-sum-exp over the class's modes of log w_k + log C_d(κ_c) + log C_d(‖θ_k‖) − log C_d(‖θ_k + κ_c·x‖)), minus
τ·log π_c, picks `tailforge predict`'s top-1 class for every row, and its softmax gives predict's probabilities."""

import numpy as np
import pytest

from conftest import run_tool

h5py = pytest.importorskip("h5py")
pytest.importorskip("scipy")
from scipy.special import logsumexp, softmax  # noqa: E402
from tailforge_py.bayes_bound import log_vmf_normaliser  # noqa: E402


def log_densities(model, x):
    """log p(x | c) for every row of x (any length: scaled to unit length, as tailforge does), [len(x), C]."""
    theta, offsets = model["mode_parameters"][:], model["mode_offsets"][:]
    log_weights, kappa = model["mode_log_weights"][:], model["class_kappa"][:]
    d = theta.shape[1]
    x = x.astype(np.float64)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    out = np.empty((len(x), len(kappa)))
    for c, k in enumerate(kappa):
        modes = theta[offsets[c]:offsets[c + 1]]
        squared = (modes * modes).sum(axis=1)
        after = np.sqrt(squared[None, :] + 2.0 * k * (x @ modes.T) + k * k)
        terms = (log_weights[offsets[c]:offsets[c + 1]][None, :] + log_vmf_normaliser(d, k)
                 + log_vmf_normaliser(d, np.sqrt(squared))[None, :] - log_vmf_normaliser(d, after))
        out[:, c] = logsumexp(terms, axis=1)
    return out


@pytest.fixture(scope="module", params=[64, 128])
def mixture(request, small_run, tailforge, tmp_path_factory):
    """(model, test file): on the session's small set (d = 64), and on one at d = 128, where tailforge takes log C_d
    from the Debye expansion instead of the integrated Bessel ratio."""
    directory = tmp_path_factory.mktemp(f"mixture-{request.param}")
    train, test = small_run.train, small_run.test
    if request.param != 64:
        run_tool(tailforge, "synth", "--preset", "small", "--seed", "2", "--dimension", str(request.param), "--out", str(directory))
        train, test = str(directory / "train.h5"), str(directory / "test.h5")
    path = str(directory / "mixture.h5")
    run_tool(tailforge, "train", train, "--output", path, "--classifier", "vmf-mixture", "--calibrate",
             "--mixture-max-modes", "1,2", "--mixture-prior-concentration", "1,2", "--folds", "3")
    return path, test


@pytest.mark.parametrize("calibrated", [True, False])
def test_the_model_file_alone_gives_predicts_classes(mixture, tailforge, tmp_path, calibrated):
    mixture, test_file = mixture
    predictions = str(tmp_path / "predictions.h5")
    run_tool(tailforge, "predict", mixture, test_file, "--output", predictions, "--top-k", "3",
             *([] if calibrated else ["--no-calibration"]))
    with h5py.File(mixture, "r") as model, h5py.File(test_file, "r") as test, h5py.File(predictions, "r") as predicted:
        assert model.attrs["format"] == "tailforge-vmf-mixture-model" and model.attrs["format_version"] == 1
        assert model["mode_parameters"].shape[1] == test["embeddings"].shape[1]
        offsets = model["mode_offsets"][:]
        assert offsets[0] == 0 and offsets[-1] == len(model["mode_parameters"]) and np.all(np.diff(offsets) >= 1)
        tau = float(model.attrs["logit_adjustment_tau"]) if calibrated else 0.0
        logits = log_densities(model, test["embeddings"][:]) - tau * np.log(model["class_prior"][:])[None, :]
        assert ("logit_adjustment_tau" in predicted.attrs) == calibrated
        assert predicted.attrs["model_type"] == "vmf-mixture"
        labels, top_k, probabilities = predicted["labels"][:], predicted["top_k_labels"][:], predicted["top_k_probabilities"][:]
    np.testing.assert_array_equal(labels, logits.argmax(axis=1))
    # tailforge's logits are float32 (a log density of magnitude L is rounded by ~L·6e-8) and so are its probabilities:
    # against these float64 ones they differed by at most 3.2e-6 (d = 128); 3e-5 leaves ten times that.
    expected = np.take_along_axis(softmax(logits, axis=1), top_k.astype(np.int64), axis=1)
    np.testing.assert_allclose(probabilities, expected, atol=3e-5)
