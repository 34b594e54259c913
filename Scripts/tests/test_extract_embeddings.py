"""Scripts/extract-embeddings on a generated image tree with randomly initialised models (no weights can be
downloaded here): the output is the input contract and the real tailforge binary balances and trains on it;
bad trees, unreadable images, existing outputs and Ctrl-C are handled. Skipped, with the reason, when torch
and timm (or open_clip) cannot be imported: Scripts/test installs them only with TAILFORGE_TEST_TORCH=1."""

import contextlib
import importlib
import os
import re
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest

from conftest import SCRIPTS, run_tool


def importable(module):
    try:
        importlib.import_module(module)
        return True
    except Exception as error:  # a CPU torch with a CUDA torchvision raises RuntimeError, not ImportError
        importable.reasons.append(f"{module}: {type(error).__name__}: {str(error).splitlines()[0][:120]}")
        return False


importable.reasons = []
HAVE_TIMM = importable("torch") and importable("timm")
HAVE_OPEN_CLIP = HAVE_TIMM and importable("open_clip")
pytestmark = pytest.mark.skipif(not HAVE_TIMM, reason="extract-embeddings needs torch and timm, which are not importable "
                                f"({'; '.join(importable.reasons)}); install with TAILFORGE_TEST_TORCH=1 Scripts/test "
                                "or pip install -r Scripts/requirements-extract.txt")

EXTRACT = os.path.join(SCRIPTS, "extract-embeddings")
TIMM = dict(backend="timm", model_name="resnet18", pretrained="none", device="cpu", batch_size=4, quiet=True)
CLASSES = {"cat": 5, "dog": 3, "zebra": 2}


def make_tree(root, classes=CLASSES, size=(24, 32), seed=0):
    """Tiny noise PNGs (and one JPEG per class, for a second decoder) in ROOT/CLASS/."""
    from PIL import Image

    rng = np.random.default_rng(seed)
    for name, count in classes.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            extension = "jpg" if i == 0 else "png"
            Image.fromarray(pixels).save(os.path.join(root, name, f"img{i:03d}.{extension}"))
    return str(root)


def extract(root, output, **options):
    from tailforge_py.embedding_extraction import extract_embeddings

    return extract_embeddings(str(root), str(output), **{**TIMM, **options})


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return make_tree(tmp_path_factory.mktemp("images") / "tree")


@pytest.fixture(scope="module")
def extracted(tree, tmp_path_factory):
    output = tmp_path_factory.mktemp("extracted") / "train.h5"
    result = run_tool(sys.executable, EXTRACT, tree, "-o", output, "--backend", "timm", "--model", "resnet18",
                      "--pretrained", "none", "--device", "cpu", "--batch-size", "4")
    return output, result


def test_the_tree_becomes_the_input_contract_in_sorted_order(extracted):
    output, result = extracted
    with h5py.File(output, "r") as f:
        assert f["embeddings"].dtype == np.float32 and f["embeddings"].shape == (10, 512)  # resnet18's pooled features
        assert np.isfinite(f["embeddings"][()]).all()
        assert f["labels"].dtype == np.int32
        assert list(f["labels"][()]) == [0] * 5 + [1] * 3 + [2] * 2
        assert list(f["class_names"].asstr()[()]) == ["cat", "dog", "zebra"]
        assert list(f["image_paths"].asstr()[()])[:3] == ["cat/img000.jpg", "cat/img001.png", "cat/img002.png"]
        assert f.attrs["model"] == "resnet18" and f.attrs["pretrained"] == "none"
    assert "10 rows × 512 (float32), 3 classes (5 → 2 rows per class)" in result.stdout


def test_tailforge_balances_trains_and_evaluates_on_the_output(extracted, tailforge, tmp_path):
    output, _ = extracted
    balanced, model = tmp_path / "balanced.h5", tmp_path / "model.h5"
    summary = run_tool(tailforge, "balance", output, "--output", balanced, "--seed", "1").stdout
    assert "10 real + 5 synthetic = 15" in summary
    with h5py.File(balanced, "r") as f:
        assert list(np.bincount(f["labels"][()])) == [5, 5, 5]
        assert list(f["class_names"].asstr()[()]) == ["cat", "dog", "zebra"]
    run_tool(tailforge, "train", balanced, "--output", model, "--max-iter", "20")
    report = run_tool(tailforge, "evaluate", model, output).stdout
    assert re.search(r"top-1 accuracy .*\(\d+ / 10\)", report), report


def test_the_same_tree_gives_identical_embeddings_and_an_existing_output_needs_overwrite(extracted, tree):
    output, _ = extracted
    with h5py.File(output, "r") as f:
        first = f["embeddings"][()]
    before = os.stat(output).st_mtime_ns
    refused = run_tool(sys.executable, EXTRACT, tree, "-o", output, "--backend", "timm", "--model", "resnet18",
                       "--pretrained", "none", check=False)
    assert refused.returncode == 1 and "already exists: pass --overwrite" in refused.stderr
    assert os.stat(output).st_mtime_ns == before
    extract(tree, output, overwrite=True, batch_size=3)  # another batching, same rows
    with h5py.File(output, "r") as f:
        np.testing.assert_allclose(f["embeddings"][()], first, rtol=1e-5, atol=1e-6)  # batch size changes BLAS blocking only


@pytest.mark.skipif(not HAVE_OPEN_CLIP, reason="open_clip is not importable")
def test_open_clip_backend_gives_the_clip_image_embedding(tree, tmp_path):
    output = tmp_path / "clip.h5"
    shape = extract(tree, output, backend="open_clip", model_name="ViT-S-32")
    assert shape == (10, 384)  # ViT-S-32's embedding width, as ViT-L-14's is 768


def test_test_tree_takes_class_ids_from_the_training_file(extracted, tmp_path):
    train, _ = extracted
    test_tree = make_tree(tmp_path / "test", classes={"zebra": 2, "dog": 1}, seed=1)
    output = tmp_path / "test.h5"
    extract(test_tree, output, class_names_from=str(train))
    with h5py.File(output, "r") as f:
        assert list(f["class_names"].asstr()[()]) == ["cat", "dog", "zebra"]
        assert list(f["labels"][()]) == [1, 2, 2]


def test_an_unreadable_image_stops_with_its_name_or_is_skipped_and_listed(tmp_path, capsys):
    from tailforge_py.tool_error import ToolError

    root = make_tree(tmp_path / "tree", classes={"a": 2, "b": 2})
    with open(os.path.join(root, "b", "broken.png"), "wb") as f:
        f.write(b"not a png at all")
    output = tmp_path / "x.h5"
    with pytest.raises(ToolError, match=r"cannot read image .*b/broken\.png .*--skip-unreadable"):
        extract(root, output)
    assert os.listdir(tmp_path) == ["tree"]  # no output, no temporary file
    extract(root, output, skip_unreadable=True)
    with h5py.File(output, "r") as f:
        assert f["embeddings"].shape[0] == 4 and f.attrs["skipped_images"] == 1
        assert "b/broken.png" not in list(f["image_paths"].asstr()[()])
    assert "skipped unreadable b/broken.png" in capsys.readouterr().out


@pytest.mark.parametrize("layout, message", [
    ({}, r"image directory .*missing does not exist"),
    ({"a": 1, "empty": 0}, r"class directory .*empty has no images .*add images or remove the directory"),
    ({"file-only": None}, r"has no class directories: expected ROOT/CLASS/IMAGE"),
])
def test_a_bad_tree_is_a_clear_error_before_any_model_is_loaded(tmp_path, layout, message):
    root = tmp_path / "missing"
    if layout:
        root = tmp_path / "tree"
        root.mkdir()
        for name, count in layout.items():
            if count is None:
                (root / "stray.png").write_bytes(b"")
            else:
                make_tree(root, classes={name: count}) if count else (root / name).mkdir()
    result = run_tool(sys.executable, EXTRACT, root, "-o", tmp_path / "x.h5", "--pretrained", "none", check=False)
    assert result.returncode == 1, result.stderr
    assert re.search(message, result.stderr), result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "x.h5").exists()


def test_unavailable_device_model_or_weights_are_clear_errors(tree, tmp_path):
    import torch
    from tailforge_py.tool_error import ToolError

    output = tmp_path / "x.h5"
    if not torch.cuda.is_available():
        with pytest.raises(ToolError, match="CUDA is not available.*use --device cpu"):
            extract(tree, output, device="cuda")
    with pytest.raises(ToolError, match="is not a timm model"):
        extract(tree, output, model_name="resnet-eighteen")
    with pytest.raises(ToolError, match="for timm give none, hub or a weights file"):
        extract(tree, output, pretrained="imagenet")
    assert not output.exists()


@contextlib.contextmanager
def sigint_at_its_default_in_children():
    """Children started in the block get SIGINT at its default, as a terminal's foreground job does, even when pytest
    itself was started with SIGINT ignored: a background job of a shell without job control is (`Scripts/test &`
    in a script, `(cmd &)`), exec passes SIG_IGN on, and Python then keeps it ignored. A handled signal is reset to
    the default by exec, so handling it here for the moment of the fork is enough."""
    previous = signal.getsignal(signal.SIGINT)
    if previous == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


# A launcher may start the tool from a thread that blocks SIGINT (a thread pool's worker): the tool unblocks it.
BLOCKING_LAUNCHER = ["-c", "import os, signal, sys; signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGINT]); "
                     "os.execv(sys.executable, [sys.executable] + sys.argv[1:])"]


@pytest.mark.parametrize("launcher", [[], BLOCKING_LAUNCHER], ids=["from-a-terminal", "from-a-thread-blocking-sigint"])
def test_ctrl_c_leaves_no_output_and_exits_130(tmp_path, launcher):
    root = make_tree(tmp_path / "tree", classes={"a": 150, "b": 150}, size=(8, 8))
    output = tmp_path / "x.h5"
    with sigint_at_its_default_in_children():
        process = subprocess.Popen([sys.executable, *launcher, EXTRACT, root, "-o", output, "--backend", "timm",
                                    "--model", "resnet18", "--pretrained", "none", "--device", "cpu", "--batch-size", "1"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt once the first image is embedded (the progress bar shows 1/300 or more); the temporary file exists then.
    seen = ""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        chunk = os.read(process.stderr.fileno(), 4096).decode(errors="replace")
        if not chunk:
            break
        seen += chunk
        if "/300" in seen and " 0/300" not in seen.rsplit("\r", 1)[-1]:
            break
    assert any(name.startswith(".x.h5.tmp-") for name in os.listdir(tmp_path)), seen[-500:]
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr[-2000:]
    assert "interrupted" in stderr and "no output written" in stderr
    assert sorted(os.listdir(tmp_path)) == ["tree"]


def test_weights_that_cannot_be_fetched_are_a_clear_error(tree, tmp_path):
    # HF_HUB_OFFLINE makes the hub refuse at once, as a machine without access to it does after its retries.
    output = tmp_path / "x.h5"
    result = run_tool(sys.executable, EXTRACT, tree, "-o", output, "--backend", "timm", "--model", "resnet18",
                      "--pretrained", "hub", "--device", "cpu", check=False, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 1, result.stderr
    assert "cannot create timm resnet18 (hub)" in result.stderr
    assert "pass its path as --pretrained" in result.stderr
    assert "Traceback" not in result.stderr and not output.exists()
