#!/usr/bin/env python3
"""scikit-learn's LogisticRegression(solver="lbfgs") on the same balanced data as `tailforge train`.

Usage: Scripts/sklearn-baseline.py TRAIN.h5 TEST.h5 [--l2 1e-4] [--tol 1e-5] [--max-iter 500]

Run it through Scripts/benchmark-training (or with a Python that has numpy, scipy, h5py, scikit-learn; the
wrapper installs them into .build-venv). Both files need /embeddings [N, d] and /labels [N].

Matching TailForge's objective (see SoftmaxObjective.swift):
  TailForge minimises  mean(CE) + (l2/2)·‖W‖²  (bias not penalised);
  scikit-learn (≥ 1.1) minimises  mean(CE) + 1/(2·C·N)·‖W‖²  with the same unpenalised intercept,
  so C = 1/(l2·N).
Matching the tolerance: TailForge stops when ‖g‖ ≤ tol·‖g₀‖ (relative to the gradient at w = 0).
scikit-learn's tol is absolute, on the largest gradient component (scipy's pgtol); its default 1e-4 can stop
at iteration 0 on this data, so we pass tol_sklearn = tol·‖g₀‖∞ with g₀ computed here at w = 0.
"""
import argparse
import json
import resource
import sys
import time

import h5py
import numpy as np
from sklearn.linear_model import LogisticRegression


def load(path):
    with h5py.File(path, "r") as f:
        x = np.asarray(f["embeddings"][...], dtype=np.float64)
        y = np.asarray(f["labels"][...], dtype=np.int64)
    return x, y


def gradient_inf_norm_at_zero(x, y, classes):
    """‖∇f(0)‖∞ of mean cross-entropy: at w = 0 every class has probability 1/C."""
    n = x.shape[0]
    onehot = np.zeros((n, classes))
    onehot[np.arange(n), y] = 1.0
    g = (1.0 / classes - onehot)  # n × C
    grad_w = g.T @ x / n
    grad_b = g.sum(axis=0) / n
    return max(np.abs(grad_w).max(), np.abs(grad_b).max())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--l2", type=float, default=1e-4, help="TailForge's --l2 (mapped to C = 1/(l2·N))")
    parser.add_argument("--tol", type=float, default=1e-5, help="TailForge's relative --tol (mapped to an absolute one)")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--json", help="write the figures to this file too")
    args = parser.parse_args()

    x, y = load(args.train)
    xt, yt = load(args.test)
    n, d = x.shape
    classes = int(max(y.max(), yt.max())) + 1
    c = 1.0 / (args.l2 * n)
    g0 = gradient_inf_norm_at_zero(x, y, classes)
    tol = args.tol * g0
    print(f"scikit-learn: {n} × {d}, {classes} classes; C = {c:.6g} (l2 {args.l2}), "
          f"tol = {tol:.3e} (= {args.tol} × ‖g₀‖∞ {g0:.3e}), max_iter {args.max_iter}", flush=True)

    model = LogisticRegression(solver="lbfgs", C=c, tol=tol, max_iter=args.max_iter)
    start = time.perf_counter()
    model.fit(x, y)
    seconds = time.perf_counter() - start
    iterations = int(np.max(model.n_iter_))
    train_accuracy = float((model.predict(x) == y).mean())
    test_accuracy = float((model.predict(xt) == yt).mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576
    print(f"scikit-learn: fit {seconds:.2f} s, {iterations} iterations; "
          f"accuracy train {100 * train_accuracy:.2f}%, test {100 * test_accuracy:.2f}%; peak RSS {peak:.2f} GiB")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"seconds": seconds, "iterations": iterations, "train_accuracy": train_accuracy,
                       "test_accuracy": test_accuracy, "C": c, "tol": tol, "peak_rss_gib": peak}, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
