"""Readers of TailForge's HDF5 files with h5py: the input contract (/embeddings, /labels, /class_names) and
`tailforge balance`'s output (plus /is_synthetic, /source_index, /kappa and its policy attributes). Every
problem is a ToolError naming the file and dataset."""

import os

import h5py
import numpy as np

from .tool_error import ToolError


def open_hdf5(path, role):
    """Opens `path` read-only; `role` (e.g. "balanced file") says in an error what the file was for."""
    if not os.path.exists(path):
        raise ToolError(f"{role} {path} does not exist")
    if os.path.isdir(path):
        raise ToolError(f"{role} {path} is a directory, not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise ToolError(f"{role} {path} is not a readable HDF5 file ({error})") from None


def dataset(file, name, role, rank=None, kinds=None):
    """The dataset `name` of an open file, checked for rank and numeric kind (numpy kind letters)."""
    if name not in file:
        present = ", ".join(sorted(f"/{k}" for k in file.keys())) or "none"
        raise ToolError(f"{role} {file.filename} has no dataset /{name} (it has: {present})")
    data = file[name]
    if not isinstance(data, h5py.Dataset):
        raise ToolError(f"{role} {file.filename}: /{name} is a group, not a dataset")
    if rank is not None and data.ndim != rank:
        raise ToolError(f"{role} {file.filename}: /{name} has rank {data.ndim}, expected {rank}")
    if kinds is not None and data.dtype.kind not in kinds:
        raise ToolError(f"{role} {file.filename}: /{name} has type {data.dtype}, expected {describe_kinds(kinds)}")
    return data


def describe_kinds(kinds):
    names = {"f": "floating point", "i": "integer", "u": "unsigned integer"}
    return " or ".join(names.get(k, k) for k in kinds)


def read_class_names(file, count=None):
    """/class_names as Python strings (variable- or fixed-length, as h5py and TailForge write them), or None."""
    if "class_names" not in file:
        return None
    data = file["class_names"]
    if data.dtype.kind not in "OSU":
        raise ToolError(f"{file.filename}: /class_names has type {data.dtype}, expected strings")
    names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in data[()]]
    if count is not None and len(names) < count:
        raise ToolError(f"{file.filename}: /class_names has {len(names)} names but labels go up to {count - 1}")
    return names


def read_labels(file, role, rows=None):
    """/labels as int64, checked non-negative (and of length `rows` when given)."""
    labels = dataset(file, "labels", role, rank=1, kinds="iu")[()].astype(np.int64)
    if rows is not None and labels.shape[0] != rows:
        raise ToolError(f"{role} {file.filename}: /labels has {labels.shape[0]} rows, /embeddings has {rows}")
    if labels.size and labels.min() < 0:
        row = int(np.argmax(labels < 0))
        raise ToolError(f"{role} {file.filename}: /labels row {row} is {labels[row]}, labels must be ≥ 0")
    return labels


def class_count(labels, names):
    """C: the number of class names when present, else one past the largest label."""
    largest = int(labels.max()) + 1 if labels.size else 0
    return max(largest, len(names) if names is not None else 0)


class LabeledEmbeddings:
    """A file in the input contract, opened lazily: labels and names are read, embeddings are sliced on demand."""

    def __init__(self, path, role="input file"):
        self.path = path
        self.role = role
        self.file = open_hdf5(path, role)
        self.embeddings = dataset(self.file, "embeddings", role, rank=2, kinds="f")
        self.labels = read_labels(self.file, role, rows=self.embeddings.shape[0])
        self.class_names = read_class_names(self.file)
        self.classes = class_count(self.labels, self.class_names)

    def counts(self):
        return np.bincount(self.labels, minlength=self.classes)

    def name(self, c):
        return self.class_names[c] if self.class_names and c < len(self.class_names) else f"class {c}"

    def close(self):
        self.file.close()


class BalancedFile(LabeledEmbeddings):
    """`tailforge balance` output: class-major rows, each class's real rows first, then its synthetic ones."""

    def __init__(self, path):
        file = open_hdf5(path, "balanced file")
        compact = decode_attribute(file.attrs.get("layout")) == "compact" or "real_embeddings" in file
        file.close()
        if compact:
            raise ToolError(f"{path} is a compact balanced file (balance --layout compact: real rows and the recipe "
                            f"only), and the plots need its synthetic rows: write them with `tailforge materialize "
                            f"{path} --output FULL.h5` and plot FULL.h5")
        super().__init__(path, role="balanced file")
        for name in ("is_synthetic", "kappa"):
            if name not in self.file:
                raise ToolError(f"{path} has no /{name}: it is not a balanced file written by tailforge balance "
                                f"(give the output of `tailforge balance`, not its input)")
        rows = self.labels.shape[0]
        self.is_synthetic = dataset(self.file, "is_synthetic", self.role, rank=1, kinds="iu")[()].astype(bool)
        self.kappa = dataset(self.file, "kappa", self.role, rank=1, kinds="f")[()].astype(np.float64)
        if self.is_synthetic.shape[0] != rows or self.kappa.shape[0] != rows:
            raise ToolError(f"{path}: /is_synthetic, /kappa and /labels differ in length")
        self.attributes = {k: decode_attribute(v) for k, v in self.file.attrs.items()}

    def policy_label(self):
        """How the file was balanced, e.g. "κ local, vmf", from its root attributes."""
        kappa = self.attributes.get("kappa_policy", "?")
        sampler = self.attributes.get("sampler", "?")
        return f"κ {kappa}, {sampler}"

    def real_counts(self):
        return np.bincount(self.labels[~self.is_synthetic], minlength=self.classes)

    def synthetic_counts(self):
        return np.bincount(self.labels[self.is_synthetic], minlength=self.classes)

    def class_rows(self, c, synthetic):
        """Row indices of class `c`'s real or synthetic rows."""
        return np.flatnonzero((self.labels == c) & (self.is_synthetic == synthetic))

    def read_rows(self, indices):
        """Embeddings of sorted row indices as float64 unit rows; contiguous runs are read as one slice,
        since a class's real (or synthetic) rows are contiguous in a balanced file."""
        indices = np.asarray(indices, dtype=np.int64)
        if indices.size == 0:
            return np.zeros((0, self.embeddings.shape[1]))
        breaks = np.flatnonzero(np.diff(indices) != 1) + 1
        parts = [self.embeddings[int(run[0]):int(run[-1]) + 1] for run in np.split(indices, breaks)]
        return unit_rows(np.concatenate(parts).astype(np.float64))


def unit_rows(x):
    """Rows scaled to unit length, as every TailForge command does before using them."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1)


def decode_attribute(value):
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, np.ndarray) and value.shape == ():
        return value.item()
    if isinstance(value, np.generic):
        return value.item()
    return value
