#!/usr/bin/env python3
"""scikit-learn's LogisticRegression(solver="lbfgs") on the same balanced data as `tailforge train`, and the
float64 objective of its solution and of TailForge models on that data.

Usage: Scripts/sklearn-baseline.py TRAIN.h5 TEST.h5 [--l2 1e-4] [--tol 1e-6] [--max-iter 500]
                                   [--model NAME=MODEL.h5 ...] [--json OUT.json]
                                   [--class-weight none|balanced] [--unit-rows]
                                   [--unlabeled POOL.h5 [--self-training-threshold 0.9]]

Run it through Scripts/benchmark-training (or with a Python that has numpy, scipy, h5py, scikit-learn and
threadpoolctl; the wrapper installs them into .build-venv). Both files need /embeddings [N, d] and /labels [N].

The same problem on both sides (see SoftmaxObjective.swift):
  TailForge minimises     f(W, b) = (1/N)·Σ CE(xᵢ, yᵢ) + (l2/2)·‖W‖²   (bias not penalised);
  scikit-learn (≥ 1.1)    (1/N)·Σ CE + 1/(2·C·N)·‖W‖²  with an unpenalised intercept,
so C = 1/(l2·N), N the labelled rows. The script checks this instead of trusting it: it evaluates scikit-learn's own objective
(LinearModelLoss, the function its lbfgs minimises) at a model and compares it with f above.
--tol is scikit-learn's own tolerance (absolute, on the largest projected gradient component of that
objective, scipy's pgtol), passed as is.

--unlabeled POOL.h5 (its /embeddings) makes it the semi-supervised baseline beside `tailforge train --classifier
vmf-mixture --unlabeled POOL.h5`: scikit-learn's SelfTrainingClassifier around the same LogisticRegression (pool rows
labelled -1; each round adds the pool rows predicted with probability >= --self-training-threshold as pseudo-labelled
rows and refits, until none is added or 10 rounds). C stays 1/(l2·N) with N the labelled rows.
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


def load_model(path):
    with h5py.File(path, "r") as f:
        return np.asarray(f["weights"][...], dtype=np.float64), np.asarray(f["bias"][...], dtype=np.float64)


def objective(w, b, x, y, l2):
    """TailForge's objective in float64: mean cross-entropy + (l2/2)·‖W‖², bias not penalised."""
    z = x @ w.T + b
    m = z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z - m).sum(axis=1)) + m[:, 0]
    return float((lse - z[np.arange(len(y)), y]).mean() + 0.5 * l2 * np.sum(w * w))


def sklearn_objective(w, b, x, y, c):
    """scikit-learn's own lbfgs objective at (W, b), or None when its private API has moved."""
    try:
        from sklearn._loss.loss import HalfMultinomialLoss
        from sklearn.linear_model._linear_loss import LinearModelLoss
    except ImportError:
        return None
    loss = LinearModelLoss(base_loss=HalfMultinomialLoss(n_classes=w.shape[0]), fit_intercept=True)
    coef = np.hstack([w, b[:, None]])
    return float(loss.loss(coef, x, y.astype(np.float64), sample_weight=None, l2_reg_strength=1.0 / (c * len(y))))


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(f"{p.get('internal_api')} {p.get('version')} kernel {p.get('architecture')}, "
                     f"{p.get('num_threads')} threads" for p in threadpool_info() if p.get("user_api") == "blas")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("train")
    parser.add_argument("test")
    parser.add_argument("--l2", type=float, default=1e-4, help="TailForge's --l2 (mapped to C = 1/(l2·N))")
    parser.add_argument("--tol", type=float, default=1e-6, help="scikit-learn's tol (absolute, passed as is)")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--model", action="append", default=[], help="NAME=PATH of a TailForge model to score")
    parser.add_argument("--json", help="write the figures to this file too")
    parser.add_argument("--class-weight", choices=["none", "balanced"], default="none",
                        help="scikit-learn's class_weight (balanced: N/(C·n_c), as tailforge train --class-weight balanced); "
                             "the objective check and --model apply to the unweighted problem only")
    parser.add_argument("--unit-rows", action="store_true",
                        help="scale every row to unit length first, as every tailforge command does")
    parser.add_argument("--unlabeled", help="a file of unlabeled rows (/embeddings): self-training (SelfTrainingClassifier)")
    parser.add_argument("--self-training-threshold", type=float, default=0.9,
                        help="with --unlabeled: the predicted probability a pool row needs to be pseudo-labelled")
    args = parser.parse_args()
    if args.unlabeled and args.model:
        parser.error("--model compares objectives of the supervised problem; drop --unlabeled or --model")

    started = time.perf_counter()
    x, y = load(args.train)
    xt, yt = load(args.test)
    pool = None
    if args.unlabeled:
        with h5py.File(args.unlabeled, "r") as f:
            pool = np.asarray(f["embeddings"][...], dtype=np.float64)
        if pool.shape[1] != x.shape[1]:
            parser.error(f"{args.unlabeled} has {pool.shape[1]} columns, the training file {x.shape[1]}")
    if args.unit_rows:
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        xt /= np.linalg.norm(xt, axis=1, keepdims=True)
        if pool is not None:
            pool /= np.linalg.norm(pool, axis=1, keepdims=True)
    load_seconds = time.perf_counter() - started
    n, d = x.shape
    weighted = args.class_weight == "balanced"
    if weighted and args.model:
        parser.error("--model compares objectives of the unweighted problem; drop --class-weight or --model")
    classes = int(max(y.max(), yt.max())) + 1
    c = 1.0 / (args.l2 * n)
    print(f"scikit-learn: {n} × {d}, {classes} classes; C = {c:.6g} (= 1/(l2·N), l2 {args.l2}), tol {args.tol:g}, "
          f"max_iter {args.max_iter}; BLAS: {blas_info()}", flush=True)

    model = LogisticRegression(solver="lbfgs", C=c, tol=args.tol, max_iter=args.max_iter,
                               class_weight="balanced" if weighted else None)
    start = time.perf_counter()
    self_training = None
    if pool is None:
        model.fit(x, y)
    else:
        from sklearn.semi_supervised import SelfTrainingClassifier
        wrapper = SelfTrainingClassifier(model, threshold=args.self_training_threshold, max_iter=10)
        wrapper.fit(np.vstack([x, pool]), np.concatenate([y, np.full(len(pool), -1)]))
        model = wrapper.estimator_ if hasattr(wrapper, "estimator_") else wrapper.base_estimator_
        added = int((wrapper.labeled_iter_[len(y):] > 0).sum())
        self_training = {"pool_rows": len(pool), "pseudo_labelled": added, "rounds": int(wrapper.n_iter_),
                         "termination": wrapper.termination_condition_, "threshold": args.self_training_threshold}
        print(f"self-training: {added} of {len(pool)} pool rows pseudo-labelled in {wrapper.n_iter_} rounds "
              f"({wrapper.termination_condition_})", flush=True)
    seconds = time.perf_counter() - start
    iterations = int(np.max(model.n_iter_))
    w, b = model.coef_, model.intercept_
    reference = objective(w, b, x, y, args.l2)
    own = None if weighted or pool is not None else sklearn_objective(w, b, x, y, c)
    predicted = model.predict(xt)
    test_accuracy = float((predicted == yt).mean())
    # Many (> 100 training rows), medium (20–100) and few (< 20) shot classes, as tailforge evaluate --train.
    counts = np.bincount(y, minlength=classes)
    groups = {}
    for name, members in (("many", counts > 100), ("medium", (counts >= 20) & (counts <= 100)), ("few", counts < 20)):
        rows = members[yt]
        if rows.any():
            groups[name] = float((predicted[rows] == yt[rows]).mean())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1048576
    print(f"scikit-learn: load {load_seconds:.2f} s, fit {seconds:.2f} s, {iterations} iterations; objective "
          f"{reference:.10f}{' (unweighted definition; the fit was class-weighted)' if weighted else ''}; test accuracy "
          f"{100 * test_accuracy:.2f}% (" + ", ".join(f"{k} {100 * v:.2f}%" for k, v in groups.items()) + f"); peak RSS {peak:.2f} GiB")
    if own is not None:
        # Same definition ⇔ the two agree to float64 rounding at any point.
        print(f"objective check: scikit-learn's own objective {own:.12f} vs TailForge's definition {reference:.12f} "
              f"(relative difference {abs(own - reference) / abs(reference):.1e})")
    figures = {"seconds": seconds, "load_seconds": load_seconds, "iterations": iterations, "objective": reference,
               "test_accuracy": test_accuracy, "group_accuracy": groups, "class_weight": args.class_weight,
               "unit_rows": args.unit_rows, "C": c, "tol": args.tol, "peak_rss_gib": peak, "blas": blas_info(),
               "models": {}, "self_training": self_training}
    for spec in args.model:
        name, _, path = spec.partition("=")
        mw, mb = load_model(path)
        value = objective(mw, mb, x, y, args.l2)
        gap = (value - reference) / abs(reference)
        accuracy = float((np.argmax(xt @ mw.T + mb, axis=1) == yt).mean())
        verdict = "no worse" if gap <= 1e-4 else "WORSE"
        print(f"{name}: objective {value:.10f}, relative to scikit-learn's {gap:+.2e} ({verdict} than 1e-4); "
              f"test accuracy {100 * accuracy:.2f}%")
        figures["models"][name] = {"objective": value, "relative_gap": gap, "test_accuracy": accuracy}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    sys.exit(main())
