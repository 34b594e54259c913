"""Reader of `tailforge evaluate --json` reports: per-class test accuracy with each class's long-tailed
training count (present when evaluate was given `--train`)."""

import json
import os

import numpy as np

from .tool_error import ToolError


class EvaluationReport:
    def __init__(self, path, training_counts=None):
        """`training_counts` (one per class) fills in the counts of a report written without `--train`."""
        self.path = path
        if not os.path.exists(path):
            raise ToolError(f"report {path} does not exist (write one with `tailforge evaluate MODEL TEST --train TRAIN --json {path}`)")
        try:
            with open(path, encoding="utf-8") as f:
                report = json.load(f)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ToolError(f"report {path} is not readable JSON ({error})") from None
        if not isinstance(report, dict) or not isinstance(report.get("perClass"), list) or "top1Accuracy" not in report:
            raise ToolError(f"{path} is not a `tailforge evaluate --json` report (no top1Accuracy and perClass)")
        classes = report["perClass"]
        self.top1 = float(report["top1Accuracy"])
        self.tau = report.get("logitAdjustmentTau")
        self.groups = {g["group"]: g.get("accuracy") for g in report.get("groups") or []}
        self.class_ids = np.array([c["classId"] for c in classes], dtype=np.int64)
        # A class without test rows has accuracy null: NaN keeps it out of plots and means.
        self.accuracy = np.array([np.nan if c.get("accuracy") is None else c["accuracy"] for c in classes])
        counts = [c.get("trainingSamples") for c in classes]
        if training_counts is not None:
            if len(training_counts) < len(classes):
                raise ToolError(f"the training file has {len(training_counts)} classes, report {path} has {len(classes)}")
            self.training_counts = np.asarray(training_counts[:len(classes)], dtype=np.int64)
        elif any(n is None for n in counts):
            raise ToolError(f"report {path} has no training counts: write it with `tailforge evaluate ... --train "
                            f"TRAIN.h5 --json {path}`, or pass --train TRAIN.h5 (the long-tailed training file) here")
        else:
            self.training_counts = np.asarray(counts, dtype=np.int64)

    def few_shot_accuracy(self):
        """The report's few-shot group accuracy (test rows of classes with < 20 training rows), or None."""
        return self.groups.get("few")
