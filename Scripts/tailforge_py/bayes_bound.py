"""An upper bound on the test accuracy any method can reach on `tailforge synth` data: the accuracy of the
Bayes-optimal classifier told more than any method is told.

The generator (SyntheticLatentGenerator.swift) draws, per class c, a mean direction μ_c, K_c ∈ {1, 2, 3} modes
m_k ~ vMF(μ_c, κ₀) with κ₀ = 3·d, a sample concentration κ_c, and each row around a uniformly chosen mode,
x ~ vMF(m_k, κ_c). The classifier here knows μ_c, K_c, κ_c, κ₀ and the mode every training row came from — but
not the modes. Given that, mode k's posterior is vMF with natural parameter θ_k = κ₀·μ_c + κ_c·Σ_{rows i of k} x_i
(a mode without rows keeps its prior, θ_k = κ₀·μ_c), and a test row's predictive density is

    p(x | c) = (1/K_c) Σ_k C_d(κ_c)·C_d(‖θ_k‖) / C_d(‖θ_k + κ_c·x‖),
    log C_d(κ) = (d/2 − 1)·log κ − (d/2)·log 2π − log I_{d/2−1}(κ).

On a balanced test set argmax_c p(x | c) is the Bayes-optimal rule. Every method sees only the training rows,
which are part of what this rule is told, and extra information can only raise the Bayes-optimal accuracy: so
the rule's *expected* accuracy over the generator's draws bounds every method's expected accuracy. (It is a
bound for methods that label each test row on its own; one that clustered the test set could learn about the
modes from it.)

`centre-bound` is told less: the superclass centre s (μ_c ~ vMF(s, κ₁), κ₁ = 60·d) instead of μ_c, so μ_c is
integrated out as well (`mean_posterior`, `centre_predictive`); it is the tighter of the two bounds.

Two sanity checks ride along: `known` (the true modes and κ_c: p(x | c) = (1/K) Σ_k vMF(x; m_k, κ_c), the
generator's own density, which no classifier can beat on average at all) and `row-mean` (the bound's rule with
μ_c replaced by the direction of the class's row mean: not a bound, an indication of what the truth is worth)."""

import argparse
import json
import os
import time

import numpy as np
from scipy.special import ive, logsumexp

from .atomic_output import atomic_output, check_output_path
from .hdf5_files import dataset, open_hdf5
from .tool_error import ToolError

CLASSIFIERS = ("bound", "centre-bound", "known", "row-mean")
GROUPS = ("many", "medium", "few")


def log_bessel_i(nu, x):
    """log I_ν(x) for x > 0 through the exponentially scaled Bessel function, which does not overflow. For ν = 383
    it underflows between x = 50 and 100 (ive(383, 100) ≈ e^−494, doubles end at e^−745); the arguments here are
    ≥ κ_c ≥ 0.3·d = 230, and where it does underflow the Debye expansion, accurate at such ν, takes over."""
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(divide="ignore"):
        result = np.log(ive(nu, x)) + x
    if not np.all(np.isfinite(result)):
        result = np.where(np.isfinite(result), result, log_bessel_i_debye(nu, x))
    return result


def log_bessel_i_debye(nu, x):
    """log I_ν(x) by the uniform asymptotic (Debye) expansion in 1/ν (DLMF 10.41.3, terms u₁…u₄), an independent
    check of `log_bessel_i`: at ν = 383 the first omitted term is O(ν⁻⁵) ≈ 1e−13 relative."""
    x = np.asarray(x, dtype=np.float64)
    z = x / nu
    root = np.sqrt(1.0 + z * z)
    p = 1.0 / root
    eta = root + np.log(z / (1.0 + root))
    p2 = p * p
    u1 = p * (3.0 - 5.0 * p2) / 24.0
    u2 = p2 * (81.0 - 462.0 * p2 + 385.0 * p2 * p2) / 1152.0
    u3 = p * p2 * (30375.0 - 369603.0 * p2 + 765765.0 * p2**2 - 425425.0 * p2**3) / 414720.0
    u4 = p2 * p2 * (4465125.0 - 94121676.0 * p2 + 349922430.0 * p2**2 - 446185740.0 * p2**3
                    + 185910725.0 * p2**4) / 39813120.0
    series = 1.0 + u1 / nu + u2 / nu**2 + u3 / nu**3 + u4 / nu**4
    return nu * eta - 0.5 * np.log(2.0 * np.pi * nu) + 0.5 * np.log(p) + np.log(series)


def log_vmf_normaliser(d, kappa):
    """log C_d(κ), the vMF density's normalising constant on the unit sphere in d dimensions (κ > 0)."""
    nu = d / 2.0 - 1.0
    kappa = np.asarray(kappa, dtype=np.float64)
    return nu * np.log(kappa) - (d / 2.0) * np.log(2.0 * np.pi) - log_bessel_i(nu, kappa)


def unit_rows(a):
    a = np.asarray(a, dtype=np.float64)
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def posterior_predictive(x, thetas, kappa):
    """log p(x | θ_k) for every row of x (unit norm) and mode posterior θ_k (rows of `thetas`): the vMF(·, κ)
    density integrated over the mode's vMF posterior with natural parameter θ_k. Shape [len(x), len(thetas)]."""
    d = x.shape[1]
    t2 = np.einsum("kd,kd->k", thetas, thetas)
    after = np.sqrt(np.maximum(t2[None, :] + 2.0 * kappa * (x @ thetas.T) + kappa * kappa, 0.0))
    return log_vmf_normaliser(d, kappa) + log_vmf_normaliser(d, np.sqrt(t2))[None, :] - log_vmf_normaliser(d, after)


def mode_posteriors(mean, mode_kappa, kappa, rows, row_modes, mode_count):
    """θ_k = κ₀·μ + κ·(sum of mode k's rows), one row per mode."""
    thetas = np.tile(mode_kappa * mean, (mode_count, 1))
    for k in range(mode_count):
        thetas[k] += kappa * rows[row_modes == k].sum(axis=0)
    return thetas


def vmf_sample(mean, kappa, n, rng):
    """Wood's (1994) algorithm in any dimension: the cosine by rejection from a Beta proposal, then a uniform
    tangent direction."""
    d = len(mean)
    m = d - 1.0
    b = m / (2.0 * kappa + np.sqrt(4.0 * kappa**2 + m**2))
    x0 = (1.0 - b) / (1.0 + b)
    c = kappa * x0 + m * np.log(1.0 - x0**2)
    w = np.empty(0)
    while len(w) < n:
        z = rng.beta(m / 2.0, m / 2.0, 2 * n)
        candidate = (1.0 - (1.0 + b) * z) / (1.0 - (1.0 - b) * z)
        keep = kappa * candidate + m * np.log(1.0 - x0 * candidate) - c >= np.log(rng.random(2 * n))
        w = np.concatenate([w, candidate[keep]])
    w = w[:n]
    v = rng.standard_normal((n, d))
    v -= np.outer(v @ mean, mean)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return w[:, None] * mean + np.sqrt(1.0 - w * w)[:, None] * v


def bessel_ratio(d, r):
    """A_d(r) = I_{d/2}(r) / I_{d/2−1}(r), the mean cosine of a vMF(·, r) draw to its mean direction."""
    nu = d / 2.0 - 1.0
    return np.exp(log_bessel_i(nu + 1.0, r) - log_bessel_i(nu, r))


def mean_posterior(centre, class_kappa, mode_kappa, kappa, sums, iterations=6):
    """η of the vMF approximation vMF(η/‖η‖, ‖η‖) to μ_c's posterior when the superclass centre s is told instead of
    μ_c. The prior is e^{κ₁·s·μ}; mode k's rows, with the mode integrated out, contribute 1/C_d(‖κ₀μ + κ·S_k‖), a
    function of t_k = S_k·μ alone on the unit sphere (‖κ₀μ + κS_k‖² = κ₀² + 2κ₀κ·t_k + κ²‖S_k‖²). Each is
    replaced by its tangent e^{β_k·t_k} at the approximation's own mean direction, β_k = A_d(r_k)·κ₀κ/r_k,
    iterated to a fixed point. What is left out is the curvature in t_k: on the cifar100-lt geometry the exact
    posterior's density ratio to this vMF varies by up to 0.03 in log where the posterior has its mass, which
    `centre_predictive` corrects by importance sampling."""
    eta = class_kappa * centre
    for _ in range(iterations):
        mu0 = eta / np.linalg.norm(eta)
        r = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * (sums @ mu0) + kappa**2 * np.einsum("kd,kd->k", sums, sums))
        eta = class_kappa * centre + ((bessel_ratio(len(centre), r) * mode_kappa * kappa / r) @ sums)
    return eta


def mode_term(x, mu0, s, mode_kappa, kappa):
    """For a mode whose rows sum to `s` and test rows x: h(μ) = log C(κ) + log C(r₁) − log C(r₂) at μ = μ₀, with
    r₁ = ‖κ₀μ + κs‖, r₂ = ‖κ₀μ + κ(s + x)‖ (log p(x | mode, μ_c = μ)), and its gradient on the sphere
    ∇h = a·s + γ·x (h depends on μ through s·μ and x·μ alone). Returns h(μ₀), a, γ, each of shape [len(x)]."""
    d = x.shape[1]
    s_mu0, s_s = s @ mu0, s @ s
    r1 = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * s_mu0 + kappa**2 * s_s)
    r2 = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * (s_mu0 + x @ mu0) + kappa**2 * (s_s + 2 * (x @ s) + 1.0))
    gamma = mode_kappa * kappa * bessel_ratio(d, r2) / r2
    a = gamma - mode_kappa * kappa * bessel_ratio(d, r1) / r1
    h0 = log_vmf_normaliser(d, kappa) + log_vmf_normaliser(d, r1) - log_vmf_normaliser(d, r2)
    return h0, a, gamma


def centre_predictive(x, eta, mode_kappa, kappa, sums, log_likelihood, prior, draws):
    """log p(x | c) per test row (unit norm) when μ_c's posterior is e^{prior·μ}·e^{log_likelihood(μ)} (the centre's
    prior and the rows' likelihood), approximated by vMF(η) (`mean_posterior`), and mode k's posterior given μ_c is
    vMF with natural parameter κ₀μ_c + κ·S_k (`sums`, one row per mode, zero for a mode without rows).

    Closed form: with h linear in μ (`mode_term`), E[e^h] under vMF(η) is e^{h(μ₀) − ∇h·μ₀}·C(‖η‖)/C(‖η + ∇h‖),
    the vMF's moment generating function. Both tangents leave out curvature worth up to a few hundredths in log
    density (test_bayes_bound), so the closed form is corrected by a ratio estimate on `draws` from vMF(η):
    E_post[e^h] / E_vMF(η)[e^{h_lin}] ≈ (Σ w_r·e^{h(μ_r)} / Σ w_r) / (mean of e^{h_lin(μ_r)}), w the importance
    weights of the exact posterior. Numerator and denominator move together, so a few dozen draws give it to
    ~1e-3. Returns log p [len(x)] and the largest |correction|."""
    d = x.shape[1]
    norm_eta = np.linalg.norm(eta)
    mu0 = eta / norm_eta
    x_mu0, x_eta = x @ mu0, x @ eta
    log_w = draws @ prior + log_likelihood(draws) - draws @ eta
    log_w -= logsumexp(log_w)
    x_draws = x @ draws.T
    per_mode, largest = [], 0.0
    for s in sums:
        h0, a, gamma = mode_term(x, mu0, s, mode_kappa, kappa)
        s_s, x_s, s_mu0 = s @ s, x @ s, s @ mu0
        tilted = np.sqrt(np.maximum(norm_eta**2 + a * a * s_s + gamma * gamma + 2 * a * (s @ eta) + 2 * gamma * x_eta
                                    + 2 * a * gamma * x_s, 0.0))
        closed = h0 - (a * s_mu0 + gamma * x_mu0) + log_vmf_normaliser(d, norm_eta) - log_vmf_normaliser(d, tilted)
        s_draws = draws @ s
        r1 = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * s_draws + kappa**2 * s_s)
        r2 = np.sqrt(mode_kappa**2 + 2 * mode_kappa * kappa * (s_draws[None, :] + x_draws)
                     + kappa**2 * (s_s + 2 * x_s + 1.0)[:, None])
        h = log_vmf_normaliser(d, kappa) + log_vmf_normaliser(d, r1)[None, :] - log_vmf_normaliser(d, r2)
        h_lin = h0[:, None] + a[:, None] * (s_draws - s_mu0)[None, :] + gamma[:, None] * (x_draws - x_mu0[:, None])
        correction = logsumexp(log_w[None, :] + h, axis=1) - (logsumexp(h_lin, axis=1) - np.log(len(draws)))
        largest = max(largest, float(np.max(np.abs(correction))))
        per_mode.append(closed + correction)
    return logsumexp(np.stack(per_mode, axis=1), axis=1) - np.log(len(sums)), largest


class Problem:
    """One generated data set: train.h5, test.h5 and the geometry file of the same preset and seed."""

    def __init__(self, train_path, test_path, geometry_path, draws=64, seed=0):
        self.draws, self.seed = draws, seed
        with open_hdf5(train_path, "train file") as f:
            self.train = unit_rows(dataset(f, "embeddings", "train file", rank=2, kinds="f")[:])
            self.train_labels = dataset(f, "labels", "train file", rank=1, kinds="iu")[:].astype(np.int64)
            train_seed = f.attrs.get("generator_seed")
        with open_hdf5(test_path, "test file") as f:
            self.test = unit_rows(dataset(f, "embeddings", "test file", rank=2, kinds="f")[:])
            self.test_labels = dataset(f, "labels", "test file", rank=1, kinds="iu")[:].astype(np.int64)
            test_seed = f.attrs.get("generator_seed")
        with open_hdf5(geometry_path, "geometry file") as f:
            self.centres = unit_rows(dataset(f, "class_centres", "geometry file", rank=2, kinds="f")[:])
            self.means = unit_rows(dataset(f, "class_means", "geometry file", rank=2, kinds="f")[:])
            self.modes = unit_rows(dataset(f, "modes", "geometry file", rank=2, kinds="f")[:])
            self.mode_offsets = dataset(f, "mode_offsets", "geometry file", rank=1, kinds="iu")[:].astype(np.int64)
            self.sample_kappa = dataset(f, "sample_kappa", "geometry file", rank=1, kinds="f")[:].astype(np.float64)
            self.train_modes = dataset(f, "train_mode", "geometry file", rank=1, kinds="iu")[:].astype(np.int64)
            self.test_modes = dataset(f, "test_mode", "geometry file", rank=1, kinds="iu")[:].astype(np.int64)
            self.mode_kappa = float(f.attrs["mode_kappa"])
            self.class_kappa = float(f.attrs["class_kappa"])
            geometry_seed = f.attrs.get("generator_seed")
        self.classes = len(self.means)
        self.counts = np.bincount(self.train_labels, minlength=self.classes)
        if not (train_seed == test_seed == geometry_seed):
            raise ToolError(f"{train_path}, {test_path} and {geometry_path} come from generator seeds {train_seed}, "
                            f"{test_seed} and {geometry_seed}: write the geometry with the seed `synth` used")
        for labels, modes, split in ((self.train_labels, self.train_modes, "train"), (self.test_labels, self.test_modes, "test")):
            if len(labels) != len(modes) or np.any(np.diff(labels) < 0):
                raise ToolError(f"{geometry_path}: /{split}_mode has {len(modes)} rows for {len(labels)} {split} rows "
                                f"(or the {split} file is not class-major): use the preset, seed and dimension `synth` used")
            bounds = self.mode_offsets[labels + 1] - self.mode_offsets[labels]
            if np.any(modes < 0) or np.any(modes >= bounds):
                raise ToolError(f"{geometry_path}: /{split}_mode names a mode its class does not have")

    def class_modes(self, c):
        return self.modes[self.mode_offsets[c]:self.mode_offsets[c + 1]]

    def log_likelihoods(self, classifier):
        """log p(x | c) for every test row and class, [rows, classes], and the largest |log I_ν| difference between
        scipy's ive and the Debye expansion over the arguments the classifier used (None when it used none)."""
        d = self.test.shape[1]
        scores = np.empty((len(self.test), self.classes))
        arguments, corrections = [], []
        for c in range(self.classes):
            kappa = self.sample_kappa[c]
            in_class = self.train_labels == c
            if classifier == "known":
                modes = self.class_modes(c)
                scores[:, c] = log_vmf_normaliser(d, kappa) + logsumexp(kappa * (self.test @ modes.T), axis=1) - np.log(len(modes))
                continue
            mode_count = len(self.class_modes(c))
            if classifier == "centre-bound":
                rows, row_modes = self.train[in_class], self.train_modes[in_class]
                sums = np.stack([rows[row_modes == k].sum(axis=0) for k in range(mode_count)])
                observed = sums[np.bincount(row_modes, minlength=mode_count) > 0]
                eta = mean_posterior(self.centres[c], self.class_kappa, self.mode_kappa, kappa, observed)

                def log_likelihood(mu, observed=observed, kappa=kappa):
                    r = np.sqrt(self.mode_kappa**2 + 2 * self.mode_kappa * kappa * (mu @ observed.T)
                                + kappa**2 * np.einsum("kd,kd->k", observed, observed))
                    return -log_vmf_normaliser(d, r).sum(axis=1)

                draws = vmf_sample(eta / np.linalg.norm(eta), np.linalg.norm(eta), self.draws, np.random.default_rng([self.seed, c]))
                scores[:, c], largest = centre_predictive(self.test, eta, self.mode_kappa, kappa, sums, log_likelihood,
                                                          self.class_kappa * self.centres[c], draws)
                corrections.append(largest)
                continue
            mean = self.means[c] if classifier == "bound" else unit_rows(self.train[in_class].sum(axis=0))
            thetas = mode_posteriors(mean, self.mode_kappa, kappa, self.train[in_class], self.train_modes[in_class],
                                     mode_count)
            per_mode = posterior_predictive(self.test, thetas, kappa)
            scores[:, c] = logsumexp(per_mode, axis=1) - np.log(len(thetas))
            arguments.append(np.linalg.norm(thetas, axis=1))
            arguments.append(np.sqrt(np.maximum((thetas**2).sum(1)[None, :] + 2 * kappa * (self.test @ thetas.T) + kappa**2, 0)).ravel())
        if not np.all(np.isfinite(scores)):
            raise ToolError(f"{classifier}: a log-density is not finite (log I_ν under- or overflowed)")
        notes = {}
        if arguments:
            nu = d / 2.0 - 1.0
            values = np.concatenate(arguments + [self.sample_kappa])
            notes["bessel_arguments"] = [float(values.min()), float(values.max())]
            notes["max_abs_log_bessel_difference"] = float(np.max(np.abs(log_bessel_i(nu, values) - log_bessel_i_debye(nu, values))))
        if corrections:
            notes["max_abs_closed_form_correction"] = max(corrections)
        return scores, notes

    def accuracy(self, scores, few_weight=1.0):
        """Top-1 and many (> 100 training rows) / medium (20–100) / few (< 20) accuracy, in %, of argmax_c ω_c·p(x | c)
        with ω_c = `few_weight` for few-shot classes and 1 otherwise: the Bayes rule for an accuracy that counts a
        few-shot test row ω times (so the rules for ω ≥ 1 trace the best trade-off of top-1 against few-shot)."""
        few_classes = self.counts < 20
        if np.isinf(few_weight):  # the limit: predict few-shot classes only, the rule with the most few-shot hits
            weights = np.where(few_classes, 0.0, -np.inf)
        else:
            weights = np.where(few_classes, np.log(few_weight), 0.0)
        correct = np.argmax(scores + weights[None, :], axis=1) == self.test_labels
        count = self.counts[self.test_labels]
        groups = {"many": count > 100, "medium": (count >= 20) & (count <= 100), "few": count < 20}
        result = {"top1": 100.0 * correct.mean()}
        for name, rows in groups.items():
            result[name] = 100.0 * correct[rows].mean() if rows.any() else float("nan")
        result["few_row_fraction"] = float(groups["few"].mean())
        return result


FEW_WEIGHTS = (1.0, 10.0, 1e3, 1e6, float("inf"))


def main(argv):
    parser = argparse.ArgumentParser(
        prog="bayes-bound",
        description="Test accuracy of the Bayes-optimal classifier told the class means, κ and every training row's "
                    "mode (an upper bound on any method's expected accuracy), with two sanity checks.")
    parser.add_argument("directories", nargs="+", metavar="DIR",
                        help="A directory with train.h5 and test.h5 (tailforge synth) and geometry.h5 (tailforge-bench geometry).")
    parser.add_argument("--json", metavar="FILE", help="Also write the figures as JSON.")
    parser.add_argument("--draws", type=int, default=64, metavar="R",
                        help="Posterior draws of μ_c per class for the centre bound's correction (default 64).")
    args = parser.parse_args(argv)
    if args.draws < 1:
        raise ToolError(f"--draws {args.draws}: give at least 1")
    if args.json:
        check_output_path(args.json)

    results = {}
    print(f"{'data':<16} {'classifier':<13} {'top1':>7} {'many':>7} {'medium':>7} {'few':>7}   checks")
    for directory in args.directories:
        problem = Problem(*(os.path.join(directory, name) for name in ("train.h5", "test.h5", "geometry.h5")),
                          draws=args.draws)
        results[directory] = {}
        for classifier in CLASSIFIERS:
            start = time.perf_counter()
            scores, notes = problem.log_likelihoods(classifier)
            figures = problem.accuracy(scores)
            figures["seconds"] = time.perf_counter() - start
            figures.update(notes)
            checks = []
            if "bessel_arguments" in notes:
                low, high = notes["bessel_arguments"]
                checks.append(f"log I_ν, ive vs Debye on [{low:.0f}, {high:.0f}]: max |Δ| = {notes['max_abs_log_bessel_difference']:.1e}")
            if "max_abs_closed_form_correction" in notes:
                checks.append(f"largest correction of the closed form: {notes['max_abs_closed_form_correction']:.3f}")
            if classifier in ("bound", "centre-bound"):
                figures["few_weighted"] = {str(w): problem.accuracy(scores, w) for w in FEW_WEIGHTS}
            results[directory][classifier] = figures
            print(f"{directory:<16} {classifier:<13} " + " ".join(f"{figures[k]:6.2f}%" for k in ("top1",) + GROUPS)
                  + "   " + "; ".join(checks), flush=True)
        for classifier in ("bound", "centre-bound"):
            trade = ", ".join(f"ω {w:g}: {f['top1']:.2f}/{f['few']:.2f}" for w, f in
                              ((float(k), v) for k, v in results[directory][classifier]["few_weighted"].items()))
            print(f"{directory:<16} {classifier:<13} few-shot classes weighted ω (top-1/few %): {trade}", flush=True)
    if len(args.directories) > 1:
        for classifier in CLASSIFIERS:
            line = []
            for key in ("top1",) + GROUPS:
                values = np.array([results[d][classifier][key] for d in args.directories])
                line.append(f"{values.mean():.2f} ± {values.std(ddof=1):.2f} %")
            print(f"{'mean ± sd':<16} {classifier:<13} " + " / ".join(line))
        for classifier in ("bound", "centre-bound"):
            trade = []
            for w in FEW_WEIGHTS:
                top1 = np.mean([results[d][classifier]["few_weighted"][str(w)]["top1"] for d in args.directories])
                few = np.mean([results[d][classifier]["few_weighted"][str(w)]["few"] for d in args.directories])
                trade.append(f"ω {w:g}: {top1:.2f}/{few:.2f}")
            print(f"{'mean':<16} {classifier:<13} few-shot classes weighted ω (top-1/few %): " + ", ".join(trade))
    if args.json:
        with atomic_output(args.json) as temporary, open(temporary, "w") as f:
            json.dump(results, f, indent=2)
