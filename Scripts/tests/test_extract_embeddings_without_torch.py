"""Scripts/extract-embeddings checks its arguments and the image tree before it imports torch (seconds to import,
gigabytes to install): with torch hidden, a typo is still reported as itself, and only a run that passes every
check asks for torch. Needs no torch, so it runs on every machine."""

import os
import sys

import pytest

from conftest import SCRIPTS, run_tool

EXTRACT = os.path.join(SCRIPTS, "extract-embeddings")


@pytest.fixture
def without_torch(tmp_path):
    """An environment in which `import torch` fails, as on a machine without it."""
    hidden = tmp_path / "hidden"
    (hidden / "torch").mkdir(parents=True)
    (hidden / "torch" / "__init__.py").write_text("raise ImportError('torch hidden by the test')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(hidden), os.environ.get("PYTHONPATH")]))}


def extract(*args, env):
    return run_tool(sys.executable, EXTRACT, *map(str, args), check=False, env=env)


def test_help_and_a_missing_tree_need_no_torch(tmp_path, without_torch):
    assert "--class-names-from" in extract("--help", env=without_torch).stdout
    result = extract(tmp_path / "no-such-tree", "-o", tmp_path / "x.h5", env=without_torch)
    assert result.returncode == 1 and "image directory" in result.stderr and "does not exist" in result.stderr, result.stderr
    assert "torch" not in result.stderr


def test_a_bad_batch_size_and_an_existing_output_need_no_torch(tmp_path, without_torch):
    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "1.png").write_bytes(b"")  # the tree is only listed before the model is loaded
    result = extract(tmp_path / "tree", "-o", tmp_path / "x.h5", "--batch-size", "0", env=without_torch)
    assert result.returncode == 1 and "--batch-size 0: must be at least 1" in result.stderr, result.stderr
    (tmp_path / "x.h5").write_bytes(b"kept")
    result = extract(tmp_path / "tree", "-o", tmp_path / "x.h5", env=without_torch)
    assert result.returncode == 1 and "already exists: pass --overwrite" in result.stderr, result.stderr
    assert (tmp_path / "x.h5").read_bytes() == b"kept"


def test_a_run_that_passes_every_check_names_the_missing_torch_and_its_requirements_file(tmp_path, without_torch):
    (tmp_path / "tree" / "a").mkdir(parents=True)
    (tmp_path / "tree" / "a" / "1.png").write_bytes(b"")
    result = extract(tmp_path / "tree", "-o", tmp_path / "x.h5", env=without_torch)
    assert result.returncode == 1, result.stderr
    assert "Python package 'torch' is missing" in result.stderr and "requirements-extract.txt" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.h5").exists()
