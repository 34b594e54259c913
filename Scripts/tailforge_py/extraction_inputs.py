"""The checks of `Scripts/extract-embeddings` that need no model (settings, output path, the image tree), kept
free of torch so that a typo fails at once instead of after seconds of importing torch and loading weights."""

from .atomic_output import check_output_path
from .hdf5_files import LabeledEmbeddings
from .image_folder import ImageFolder
from .tool_error import ToolError


def prepare(root, output, batch_size=64, workers=0, overwrite=False, class_names_from=None):
    """Every check that needs no model, so a typo fails at once rather than after loading torch and weights:
    settings, the output path, and the image tree (scanned into a deterministic list)."""
    if batch_size < 1:
        raise ToolError(f"--batch-size {batch_size}: must be at least 1")
    if workers < 0:
        raise ToolError(f"--workers {workers}: must be 0 (load in this process) or more")
    check_output_path(output, [class_names_from] if class_names_from else [], overwrite=overwrite)
    names = None
    if class_names_from:
        reference = LabeledEmbeddings(class_names_from, role="--class-names-from file")
        if reference.class_names is None:
            raise ToolError(f"--class-names-from {class_names_from} has no /class_names")
        names = reference.class_names
        reference.close()
    return ImageFolder(root, names)
