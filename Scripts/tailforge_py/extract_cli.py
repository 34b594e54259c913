"""`Scripts/extract-embeddings`: argument parsing only."""

import argparse

from .cli_support import require

EPILOG = """The paper's embeddings (OpenCLIP ViT-L/14, 768-d; weights are fetched from the Hugging Face hub on
first use, or give a local file to --pretrained):
  Scripts/extract-embeddings cifar100-lt/train -o train.h5 --model ViT-L-14 --pretrained laion2b_s32b_b82k --device cuda
  Scripts/extract-embeddings cifar100-lt/test -o test.h5 --model ViT-L-14 --pretrained laion2b_s32b_b82k \\
      --device cuda --class-names-from train.h5
(--pretrained openai gives OpenAI's ViT-L/14 weights.) A randomly initialised model, for trying things:
  Scripts/extract-embeddings images/ -o x.h5 --backend timm --model resnet18 --pretrained none --device cpu"""


def parser():
    p = argparse.ArgumentParser(
        prog="extract-embeddings", epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Embed every image of an ImageFolder tree (ROOT/CLASS/*.jpg|png…) with a frozen open_clip "
                    "or timm model into TailForge's input file (/embeddings, /labels, /class_names).")
    p.add_argument("root", help="image tree: one directory per class, images anywhere below it")
    p.add_argument("-o", "--output", required=True, help="HDF5 file to write")
    p.add_argument("--backend", choices=["open_clip", "timm"], default="open_clip", help="model library (default open_clip)")
    p.add_argument("--model", default="ViT-L-14", help="model name in that library (default ViT-L-14, the paper's)")
    p.add_argument("--pretrained", default="laion2b_s32b_b82k",
                   help="weights: an open_clip tag (openai, laion2b_s32b_b82k, …), timm's `hub`, a local weights file, "
                        "or `none` for random initialisation (default laion2b_s32b_b82k)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (cuda when available; default)")
    p.add_argument("--batch-size", type=int, default=64, help="images per forward pass (default 64)")
    p.add_argument("--workers", type=int, default=0, help="image-decoding worker processes (default 0: this process)")
    p.add_argument("--class-names-from", metavar="FILE", help="take class names and ids from this HDF5 file's /class_names "
                   "(e.g. the training file, so a test tree gets the same labels)")
    p.add_argument("--skip-unreadable", action="store_true", help="leave unreadable images out and list them, instead of stopping")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def main(argv):
    args = parser().parse_args(argv)
    # The checks that need no model come before torch is imported, which takes seconds: a typo fails at once.
    require(["numpy", "h5py"], "requirements-extract.txt")
    from .extraction_inputs import prepare

    folder = prepare(args.root, args.output, args.batch_size, args.workers, args.overwrite, args.class_names_from)
    require(["PIL", "torch", args.backend], "requirements-extract.txt")
    from .embedding_extraction import extract_embeddings

    extract_embeddings(args.root, args.output, args.backend, args.model, args.pretrained, args.device, args.batch_size,
                       args.workers, args.overwrite, args.skip_unreadable, args.class_names_from, args.quiet, folder)
