"""An ImageFolder-style tree (ROOT/CLASS/**/IMAGE) as a deterministic list of (path, label): classes are the
subdirectories of ROOT in sorted order (or the order of an existing file's /class_names), images are every
file with an image extension below a class directory, sorted by path. Hidden files and directories are
skipped, as torchvision's ImageFolder does."""

import os

from .tool_error import ToolError

# torchvision's IMG_EXTENSIONS, compared case-insensitively.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


class ImageFolder:
    def __init__(self, root, class_names=None):
        """`class_names`: the class order to use (e.g. the training file's, so test labels match); every class
        directory must be one of them, and a listed class without a directory gets no rows."""
        if not os.path.exists(root):
            raise ToolError(f"image directory {root} does not exist")
        if not os.path.isdir(root):
            raise ToolError(f"{root} is not a directory: give the root of an ImageFolder tree (ROOT/CLASS/IMAGE)")
        self.root = root
        directories = sorted(e.name for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
        if not directories:
            raise ToolError(f"{root} has no class directories: expected ROOT/CLASS/IMAGE (one directory per class)")
        if class_names is None:
            self.class_names = directories
        else:
            unknown = [d for d in directories if d not in class_names]
            if unknown:
                raise ToolError(f"class directories {', '.join(unknown[:5])} of {root} are not among the "
                                f"{len(class_names)} class names given: rename them or leave out --class-names-from")
            self.class_names = list(class_names)
        self.samples = []  # (relative path, label), in row order
        for label, name in enumerate(self.class_names):
            directory = os.path.join(root, name)
            if not os.path.isdir(directory):
                continue  # only possible with given class names: a class with no images here
            images = self.images_below(directory)
            if not images and class_names is None:
                raise ToolError(f"class directory {directory} has no images (looked for {', '.join(IMAGE_EXTENSIONS)}): "
                                f"add images or remove the directory")
            self.samples += [(os.path.relpath(p, root), label) for p in images]
        if not self.samples:
            raise ToolError(f"{root} has no images in its class directories")

    @staticmethod
    def images_below(directory):
        found = []
        for current, subdirectories, files in os.walk(directory, followlinks=True):
            subdirectories[:] = sorted(d for d in subdirectories if not d.startswith("."))
            found += [os.path.join(current, f) for f in files
                      if not f.startswith(".") and f.lower().endswith(IMAGE_EXTENSIONS)]
        return sorted(found)

    def path(self, index):
        return os.path.join(self.root, self.samples[index][0])
