"""Shared fixtures: the real tailforge binary and a small long-tailed data set run through it once per session
(synth → balance with two κ policies and SMOTE → train unweighted and balanced → evaluate --json)."""

import os
import subprocess
import sys

import pytest

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPOSITORY = os.path.dirname(SCRIPTS)
sys.path.insert(0, SCRIPTS)


def tailforge_binary():
    """$TAILFORGE_BIN (Scripts/test-python sets it), else the newest of this checkout's release and debug builds."""
    explicit = os.environ.get("TAILFORGE_BIN")
    if explicit:
        return explicit
    builds = [os.path.join(REPOSITORY, ".build", kind, "tailforge") for kind in ("release", "debug")]
    builds = [b for b in builds if os.path.exists(b)]
    if not builds:
        pytest.fail("no tailforge binary: run `swift build` first or set TAILFORGE_BIN")
    return max(builds, key=os.path.getmtime)


def run_tool(*args, check=True, **kwargs):
    """Runs a command, returning the CompletedProcess; with check, fails the test with its stderr."""
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if check and result.returncode != 0:
        pytest.fail(f"{' '.join(map(str, args))} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


class SmallRun:
    """Paths of the session's data: train.h5 (20 classes, 200 → 10 rows, d = 64), test.h5, local.h5 and
    class.h5 (vMF-balanced with κ local and class), smote.h5, compact.h5 (κ local, --layout compact), and plain.json / balanced.json reports (with
    training counts) and nocounts.json (without)."""

    def __init__(self, directory, tailforge):
        self.dir = directory
        p = lambda name: os.path.join(directory, name)  # noqa: E731
        run_tool(tailforge, "synth", "--preset", "small", "--seed", "1", "--out", directory)
        self.train, self.test = p("train.h5"), p("test.h5")
        self.local, self.klass, self.smote = p("local.h5"), p("class.h5"), p("smote.h5")
        run_tool(tailforge, "balance", self.train, "--output", self.local, "--seed", "1")
        run_tool(tailforge, "balance", self.train, "--output", self.klass, "--kappa", "class", "--seed", "1")
        run_tool(tailforge, "balance", self.train, "--output", self.smote, "--sampler", "smote", "--seed", "1")
        self.compact = p("compact.h5")
        run_tool(tailforge, "balance", self.train, "--output", self.compact, "--layout", "compact", "--seed", "1")
        self.plain_report, self.balanced_report, self.nocounts_report = p("plain.json"), p("balanced.json"), p("nocounts.json")
        for data, model in ((self.train, p("plain.model")), (self.local, p("balanced.model"))):
            run_tool(tailforge, "train", data, "--output", model, "--max-iter", "30")
        run_tool(tailforge, "evaluate", p("plain.model"), self.test, "--train", self.train, "--json", self.plain_report)
        run_tool(tailforge, "evaluate", p("balanced.model"), self.test, "--train", self.train, "--json", self.balanced_report)
        run_tool(tailforge, "evaluate", p("plain.model"), self.test, "--json", self.nocounts_report)


@pytest.fixture(scope="session")
def tailforge():
    return tailforge_binary()


@pytest.fixture(scope="session")
def small_run(tmp_path_factory, tailforge):
    return SmallRun(str(tmp_path_factory.mktemp("small")), tailforge)
