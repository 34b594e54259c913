"""`Scripts/extract-embeddings`: every image of an ImageFolder tree through a frozen encoder, in the tree's
deterministic order, into TailForge's input contract — /embeddings float32 [N, d], /labels int32 [N],
/class_names UTF-8 strings [C] — plus /image_paths (each row's image, relative to the root). The file is
written under a temporary name and renamed when complete."""

import os
import sys
import time

import h5py
import numpy as np
import torch
import torch.utils.data
from PIL import Image

from .atomic_output import atomic_output
from .embedding_model import EmbeddingModel, resolve_device
from .extraction_inputs import prepare
from .tool_error import ToolError


class ImageRows(torch.utils.data.Dataset):
    """Loads and preprocesses one image; an unreadable one yields its error instead of raising, so the
    caller decides (stop, or skip with --skip-unreadable) with the file's name in hand."""

    def __init__(self, folder, preprocess):
        self.folder, self.preprocess = folder, preprocess

    def __len__(self):
        return len(self.folder.samples)

    def __getitem__(self, index):
        path = self.folder.path(index)
        try:
            with Image.open(path) as image:
                return index, self.preprocess(image.convert("RGB")), None
        except (OSError, ValueError, Image.DecompressionBombError) as error:
            return index, None, f"{type(error).__name__}: {error}"


def collate(items):
    good = [(i, x) for i, x, e in items if e is None]
    return ([i for i, _ in good], torch.stack([x for _, x in good]) if good else None,
            [(i, e) for i, _, e in items if e is not None])


def progress(total, quiet):
    if quiet:
        return None
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, desc="embedding")


def extract_embeddings(root, output, backend, model_name, pretrained, device="auto", batch_size=64, workers=0,
                       overwrite=False, skip_unreadable=False, class_names_from=None, quiet=False, folder=None):
    """Writes `output`; returns its embeddings' shape. `folder`: the result of `prepare` when already called."""
    if folder is None:
        folder = prepare(root, output, batch_size, workers, overwrite, class_names_from)
    device = resolve_device(device)
    model = EmbeddingModel(backend, model_name, pretrained, device)
    loader = torch.utils.data.DataLoader(ImageRows(folder, model.preprocess), batch_size=batch_size, shuffle=False,
                                         num_workers=workers, collate_fn=collate, pin_memory=device.type == "cuda")
    started = time.monotonic()
    skipped = []
    bar = progress(len(folder.samples), quiet)
    with atomic_output(output) as temporary, h5py.File(temporary, "w", track_order=True) as f:
        embeddings, kept = None, []
        for indices, batch, errors in loader:
            for index, error in errors:
                if not skip_unreadable:
                    raise ToolError(f"cannot read image {folder.path(index)} ({error}): replace or remove it, or "
                                    f"pass --skip-unreadable to leave such images out (they are listed at the end)")
                skipped.append((folder.samples[index][0], error))
            if batch is not None:
                rows = model.embed(batch)
                if embeddings is None:
                    embeddings = f.create_dataset("embeddings", shape=(0, rows.shape[1]), maxshape=(None, rows.shape[1]),
                                                  dtype="float32", chunks=(min(1024, len(folder.samples)), rows.shape[1]))
                if not np.isfinite(rows).all():
                    raise ToolError(f"{model.description} produced non-finite embeddings for {folder.path(indices[0])} ...: "
                                    f"check the weights (--pretrained)")
                start = embeddings.shape[0]
                embeddings.resize(start + len(rows), axis=0)
                embeddings[start:] = rows
                kept += indices
            if bar is not None:
                bar.update(len(indices) + len(errors))
        if bar is not None:
            bar.close()
        if embeddings is None:
            raise ToolError(f"no image of {root} could be read: nothing written")
        labels = np.array([folder.samples[i][1] for i in kept], dtype=np.int32)
        text = h5py.string_dtype("utf-8")
        f.create_dataset("labels", data=labels)
        f.create_dataset("class_names", data=np.array(folder.class_names, dtype=object), dtype=text)
        f.create_dataset("image_paths", data=np.array([folder.samples[i][0] for i in kept], dtype=object), dtype=text)
        f.attrs.update({"format": "tailforge-input", "backend": backend, "model": model_name, "pretrained": pretrained,
                        "image_root": os.path.abspath(root), "skipped_images": len(skipped)})
        shape = embeddings.shape
    elapsed = time.monotonic() - started
    counts = np.bincount(labels, minlength=len(folder.class_names))
    print(f"{output}: {shape[0]} rows × {shape[1]} (float32), {len(folder.class_names)} classes "
          f"({counts.max()} → {counts.min()} rows per class), {model.description} on {device}, "
          f"{elapsed:.1f} s ({shape[0] / max(elapsed, 1e-9):.1f} images/s)")
    for path, error in skipped:
        print(f"skipped unreadable {path}: {error}")
    empty = [folder.class_names[c] for c in np.flatnonzero(counts == 0)]
    if empty:
        print(f"classes without rows: {', '.join(empty[:10])}{' …' if len(empty) > 10 else ''}")
    return shape
