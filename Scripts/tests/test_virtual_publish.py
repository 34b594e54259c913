"""A cluster job with `publish: virtual`, read with h5py alone: a coordinator and two workers (real processes,
loopback, --insecure) publish the small preset as HDF5 virtual datasets over the shard files beside the output;
h5py reads the same arrays as single-node `balance`, and a deleted shard reads as fill values no balanced file
holds (NaN, -1, 255), never as plausible zeros."""

import glob
import os
import signal
import subprocess
import time

import h5py
import numpy as np
import pytest

from conftest import run_tool

DATASETS = ("embeddings", "labels", "is_synthetic", "source_index", "kappa")


@pytest.fixture()
def cluster(tmp_path, tailforge):
    """A coordinator and two workers on loopback; yields its endpoint, stops them at the end."""
    state = tmp_path / "state"
    processes = []
    log = open(tmp_path / "cluster.log", "w")
    try:
        processes.append(subprocess.Popen(
            [tailforge, "coordinator", "--bind", "tcp://127.0.0.1:*", "--state-dir", str(state), "--data-root", str(tmp_path),
             "--insecure"], stdout=log, stderr=log))
        endpoint_file = state / "endpoint"
        deadline = time.time() + 30
        while not (endpoint_file.exists() and endpoint_file.read_text().strip()):
            assert time.time() < deadline and processes[0].poll() is None, (tmp_path / "cluster.log").read_text()
            time.sleep(0.05)
        endpoint = endpoint_file.read_text().strip()
        for index in range(2):
            processes.append(subprocess.Popen(
                [tailforge, "worker", "--connect", endpoint, "--work-dir", str(tmp_path / f"worker{index}"),
                 "--data-root", str(tmp_path), "--name", f"w{index}", "--insecure"], stdout=log, stderr=log))
        yield endpoint
    finally:
        for process in reversed(processes):
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def test_h5py_reads_a_virtual_output_as_the_single_node_file_and_holes_as_invalid_values(tmp_path, tailforge, cluster):
    run_tool(tailforge, "synth", "--preset", "small", "--seed", "3", "--out", str(tmp_path / "data"))
    train = tmp_path / "data" / "train.h5"
    single = tmp_path / "single.h5"
    run_tool(tailforge, "balance", str(train), "--output", str(single), "--seed", "4")
    shared = tmp_path / "shared"
    shared.mkdir()
    manifest = tmp_path / "job.yaml"
    manifest.write_text(
        f"input: {{path: {train}}}\noutput: {tmp_path / 'virtual.h5'}\npublish: virtual\npolicy: {{seed: 4}}\n"
        f"sharding: {{shards: 4}}\ntransfer: {{shared_shard_directory: {shared}}}\n")
    run_tool(tailforge, "submit", str(manifest), "--coordinator", cluster, "--wait", timeout=300)

    with h5py.File(tmp_path / "virtual.h5", "r") as virtual, h5py.File(single, "r") as reference:
        for name in DATASETS:
            assert virtual[name].is_virtual
            assert np.array_equal(virtual[name][:], reference[name][:]), name
        assert set(virtual.attrs) == set(reference.attrs)
        assert virtual.attrs["balanced_sha256"] == reference.attrs["balanced_sha256"]
        sources = {source.file_name for source in virtual["embeddings"].virtual_sources()}
    shards = sorted(glob.glob(str(tmp_path / "virtual.shards" / "job-*" / "shard-*.h5")))
    assert len(shards) == 4
    assert sources == {os.path.relpath(path, tmp_path) for path in shards}
    assert os.path.getsize(tmp_path / "virtual.h5") * 20 < os.path.getsize(single)

    # A shard deleted afterwards: h5py does not check, and shows its rows as values no balanced file holds.
    os.remove(shards[1])
    with h5py.File(tmp_path / "virtual.h5", "r") as virtual:
        labels = virtual["labels"][:]
        holes = labels == -1
        assert holes.any() and not holes.all()
        assert np.isnan(virtual["embeddings"][:][holes]).all()
        assert (virtual["is_synthetic"][:][holes] == 255).all()
        assert (virtual["source_index"][:][holes] == -1).all()
    # TailForge refuses it, naming the missing shard.
    refused = run_tool(tailforge, "train", str(tmp_path / "virtual.h5"), "--output", str(tmp_path / "model.h5"), check=False)
    assert refused.returncode != 0 and "which is missing" in refused.stderr, refused.stderr
    assert not (tmp_path / "model.h5").exists()
