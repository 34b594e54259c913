"""Scripts/bayes-bound: its Bessel functions against arbitrary precision, its posterior predictive against Monte
Carlo and against its known limit, and the command on a small generated data set."""

import json
import os

import numpy as np
import pytest

from conftest import SCRIPTS, run_tool, tailforge_binary

pytest.importorskip("scipy")
from scipy.special import logsumexp  # noqa: E402
from tailforge_py.bayes_bound import (log_bessel_i, log_bessel_i_debye, log_vmf_normaliser,  # noqa: E402
                                      posterior_predictive)


@pytest.mark.parametrize("x", [100.0, 230.0, 1000.0, 2304.0, 10000.0, 60000.0])
def test_log_bessel_matches_arbitrary_precision_at_the_generators_order(x):
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    exact = float(mpmath.log(mpmath.besseli(383, x)))
    # log I is up to 6e4 here: 1e-9 absolute is ~1e-14 relative, a few ulps of the double result.
    assert log_bessel_i(383.0, x) == pytest.approx(exact, abs=1e-9)
    assert log_bessel_i_debye(383.0, x) == pytest.approx(exact, abs=1e-9)


def test_log_bessel_falls_back_to_debye_where_the_scaled_function_underflows():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    # ive(383, 20) ≈ e^-1100 is 0 in double precision.
    assert log_bessel_i(383.0, 20.0) == pytest.approx(float(mpmath.log(mpmath.besseli(383, 20))), abs=1e-9)


def test_vmf_normaliser_in_three_dimensions_is_the_closed_form():
    kappa = np.array([0.5, 3.0, 40.0])
    closed = np.log(kappa / (4 * np.pi * np.sinh(kappa)))
    np.testing.assert_allclose(log_vmf_normaliser(3, kappa), closed, rtol=1e-12)


def vmf_sample_3d(mean, kappa, n, rng):
    """Exact vMF draws on S²: the cosine w has density ∝ e^{κw} on [−1, 1], the azimuth is uniform."""
    u = rng.random(n)
    w = 1.0 + np.log(u + (1.0 - u) * np.exp(-2.0 * kappa)) / kappa
    phi = rng.uniform(0.0, 2.0 * np.pi, n)
    a = np.cross(mean, [1.0, 0.0, 0.0] if abs(mean[0]) < 0.9 else [0.0, 1.0, 0.0])
    a /= np.linalg.norm(a)
    b = np.cross(mean, a)
    s = np.sqrt(np.maximum(1.0 - w * w, 0.0))
    return w[:, None] * mean + s[:, None] * (np.cos(phi)[:, None] * a + np.sin(phi)[:, None] * b)


@pytest.mark.parametrize("theta_norm", [0.0, 5.0, 40.0])
def test_posterior_predictive_is_the_vmf_density_averaged_over_the_mode_posterior(theta_norm):
    # In d = 3 the mode posterior vMF(θ/‖θ‖, ‖θ‖) can be sampled exactly: the predictive must be the mean of
    # vMF(x; m, κ) over its draws. ‖θ‖ = 0 is a uniform posterior (a mode no row and no prior pins down).
    rng = np.random.default_rng(7)
    kappa, n = 4.0, 400_000
    direction = np.array([0.0, 0.6, 0.8])
    if theta_norm == 0:
        modes = rng.standard_normal((n, 3))
        modes /= np.linalg.norm(modes, axis=1, keepdims=True)
        theta = np.full((1, 3), 1e-12)
    else:
        modes = vmf_sample_3d(direction, theta_norm, n, rng)
        theta = theta_norm * direction[None, :]
    x = np.array([[0.0, 0.6, 0.8], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, -0.6, -0.8]])
    predicted = np.exp(posterior_predictive(x, theta, kappa)[:, 0])
    densities = np.exp(log_vmf_normaliser(3, kappa) + kappa * (x @ modes.T))
    estimate = densities.mean(axis=1)
    standard_error = densities.std(axis=1) / np.sqrt(n)
    # 5 standard errors of the Monte Carlo mean: a false failure has probability < 1e-6 per point.
    assert np.all(np.abs(predicted - estimate) < 5 * standard_error), (predicted, estimate, standard_error)


def test_posterior_predictive_approaches_the_true_vmf_as_the_mode_is_pinned_down():
    # With ‖θ‖ = T along m, log C(T) − log C(‖T·m + κx‖) = κ·m·x·A_d(T) + O(κ²/T), A_d(T) = 1 − (d − 1)/(2T) + …,
    # so at d = 768, κ = 350, T = 1e9 the predictive is the vMF log-density within ≈ 350·383/1e9 ≈ 1.3e-4 (plus
    # the rounding of log C(1e9) ≈ −1e9 to 1e-16 relative, ≈ 1e-7).
    d, kappa, rng = 768, 350.0, np.random.default_rng(3)
    m = rng.standard_normal(d)
    m /= np.linalg.norm(m)
    x = rng.standard_normal((5, d)) + 0.5 * np.sqrt(d) * m
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    predicted = posterior_predictive(x, 1e9 * m[None, :], kappa)[:, 0]
    np.testing.assert_allclose(predicted, log_vmf_normaliser(d, kappa) + kappa * (x @ m), atol=1e-3)


def bench_binary():
    path = os.path.join(os.path.dirname(tailforge_binary()), "tailforge-bench")
    if not os.path.exists(path):
        pytest.skip(f"no {path}: `swift build` builds it")
    return path


def test_command_prints_the_bound_and_its_checks_on_generated_data(tmp_path):
    bench, tailforge = bench_binary(), tailforge_binary()
    for seed, directory in ((3, tmp_path / "a"), (4, tmp_path / "b")):
        run_tool(tailforge, "synth", "--preset", "small", "--seed", str(seed), "--dimension", "16", "--out", str(directory))
        run_tool(bench, "geometry", "--preset", "small", "--seed", str(seed), "--dimension", "16", "--out", str(directory / "geometry.h5"))
    out = run_tool(os.path.join(SCRIPTS, "bayes-bound"), str(tmp_path / "a"), str(tmp_path / "b"), "--json", str(tmp_path / "r.json"))
    figures = json.loads((tmp_path / "r.json").read_text())
    for directory in ("a", "b"):
        result = figures[str(tmp_path / directory)]
        assert set(result) == {"bound", "centre-bound", "known", "row-mean"}
        # The generator's own density, given the true modes, is the best rule there is on average; on 1,000 test rows
        # it cannot fall behind the rule that must infer the modes by more than a few rows' worth of luck.
        assert result["known"]["top1"] >= result["bound"]["top1"] - 1.0
        assert result["bound"]["max_abs_log_bessel_difference"] >= 0
    assert "mean ± sd" in out.stdout

    # A geometry file of another seed is refused, naming the seeds.
    os.replace(tmp_path / "b" / "geometry.h5", tmp_path / "a" / "geometry.h5")
    refused = run_tool(os.path.join(SCRIPTS, "bayes-bound"), str(tmp_path / "a"), check=False)
    assert refused.returncode == 1 and "generator seeds 3, 3 and 4" in refused.stderr, refused.stderr


def test_wood_sampler_has_the_vmf_mean_cosine():
    from tailforge_py.bayes_bound import bessel_ratio, vmf_sample
    rng = np.random.default_rng(5)
    d, kappa, n = 768, 2304.0, 20_000
    mean = np.eye(d)[0]
    cosines = vmf_sample(mean, kappa, n, rng) @ mean
    # 5 standard errors of the mean of n draws.
    assert abs(cosines.mean() - bessel_ratio(d, kappa)) < 5 * cosines.std() / np.sqrt(n)


@pytest.mark.parametrize("rows_per_mode", [(5, 2, 0), (200, 150, 150)])
def test_centre_predictive_matches_an_independent_importance_sampling_estimate(rows_per_mode):
    # The generator's cifar100-lt geometry: d = 768, κ₁ = 60·d, κ₀ = 3·d, κ = 0.45·d; a few-shot class (7 rows, one
    # mode unseen) and a many-shot one. The reference samples, for each test row and mode, from the vMF tilted by
    # that row's gradient, vMF(η + ∇h), where the integrand w·e^{h − h_lin} is nearly constant: 4,000 draws give
    # E_post[e^h] to ~1e-4 in log, by a route that shares only h and the posterior with the code under test.
    from tailforge_py.bayes_bound import centre_predictive, mean_posterior, mode_term, vmf_sample
    rng = np.random.default_rng(11)
    d = 768
    class_kappa, mode_kappa, kappa = 60.0 * d, 3.0 * d, 0.45 * d
    centre = rng.standard_normal(d)
    centre /= np.linalg.norm(centre)
    mu = vmf_sample(centre, class_kappa, 1, rng)[0]
    modes = vmf_sample(mu, mode_kappa, 3, rng)
    sums = np.stack([vmf_sample(m, kappa, n, rng).sum(axis=0) if n else np.zeros(d) for m, n in zip(modes, rows_per_mode)])
    observed = sums[np.array(rows_per_mode) > 0]

    def log_likelihood(draws):
        r = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * (draws @ observed.T) + kappa**2 * (observed**2).sum(1))
        return -log_vmf_normaliser(d, r).sum(axis=1)

    prior = class_kappa * centre
    eta = mean_posterior(centre, class_kappa, mode_kappa, kappa, observed)
    norm_eta = np.linalg.norm(eta)
    mu0 = eta / norm_eta
    x = np.concatenate([vmf_sample(m, kappa, 2, rng) for m in modes] + [vmf_sample(centre, kappa, 2, rng)])
    tested, largest = centre_predictive(x, eta, mode_kappa, kappa, sums, log_likelihood, prior, vmf_sample(mu0, norm_eta, 64, rng))

    def log_w(draws):
        return draws @ prior + log_likelihood(draws) - draws @ eta

    base = vmf_sample(mu0, norm_eta, 4000, rng)
    log_normaliser = logsumexp(log_w(base)) - np.log(len(base))  # log E_vMF(η)[w]
    reference = np.empty((len(x), len(sums)))
    for i in range(len(x)):
        for k, s in enumerate(sums):
            h0, a, gamma = mode_term(x[i:i + 1], mu0, s, mode_kappa, kappa)
            g = a[0] * s + gamma[0] * x[i]
            draws = vmf_sample((eta + g) / np.linalg.norm(eta + g), np.linalg.norm(eta + g), 4000, rng)
            h = posterior_predictive(x[i:i + 1], mode_kappa * draws + kappa * s, kappa)[0]
            h_lin = h0[0] + (draws - mu0) @ g
            log_tilted = log_w(draws) + h - h_lin
            reference[i, k] = (h0[0] - g @ mu0 + log_vmf_normaliser(d, norm_eta) - log_vmf_normaliser(d, np.linalg.norm(eta + g))
                               + logsumexp(log_tilted) - np.log(len(draws)) - log_normaliser)
    reference = logsumexp(reference, axis=1) - np.log(len(sums))
    # The closed form alone is off by `largest` (a few hundredths); corrected, 2e-3 of the reference.
    assert np.max(np.abs(tested - reference)) < 2e-3, (tested - reference, largest)


def test_vmf_moment_generating_function():
    # E[e^{g·μ}] under vMF(η) = C(‖η‖)/C(‖η + g‖), what centre_predictive rests on; in d = 3 by exact sampling.
    rng = np.random.default_rng(2)
    eta = np.array([0.0, 3.0, 4.0])
    g = np.array([1.0, -0.5, 0.7])
    draws = vmf_sample_3d(eta / 5.0, 5.0, 400_000, rng)
    values = np.exp(draws @ g)
    closed = np.exp(log_vmf_normaliser(3, 5.0) - log_vmf_normaliser(3, np.linalg.norm(eta + g)))
    assert abs(values.mean() - closed) < 5 * values.std() / np.sqrt(len(values))
