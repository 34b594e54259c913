"""`Scripts/plots`: argument parsing only; each subcommand calls one plot function."""

import argparse
import os

from .cli_support import require
from .tool_error import ToolError

EPILOG = """examples (after `tailforge synth --preset cifar100-lt --seed 1 --out data/` and the README's flow):
  Scripts/plots counts data/train.h5 data/balanced.h5 -o counts.png
  Scripts/plots accuracy plain.json balanced.json --names unweighted vMF -o accuracy.png
  Scripts/plots kappa local.h5 class.h5 -o kappa.png
  Scripts/plots projection data/balanced.h5 --test data/test.h5 -o projection.png
  Scripts/plots all --input data/train.h5 --balanced local.h5 class.h5 --reports a.json b.json \\
      --test data/test.h5 --out-dir plots/
Reports are `tailforge evaluate MODEL TEST --train TRAIN --json REPORT` output. Outputs are PNG files, written
under a temporary name and renamed when complete; an existing output is replaced, an input never is."""


def parser():
    top = argparse.ArgumentParser(prog="plots", description="PNG pictures of TailForge's balanced files and "
                                  "evaluation reports (matplotlib).", epilog=EPILOG,
                                  formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    counts = sub.add_parser("counts", help="class counts before and after balancing")
    counts.add_argument("input", help="the long-tailed input file (/labels)")
    counts.add_argument("balanced", help="its `tailforge balance` output")
    counts.add_argument("-o", "--output", required=True, help="PNG file to write")

    accuracy = sub.add_parser("accuracy", help="per-class accuracy against training count, two models side by side")
    accuracy.add_argument("reports", nargs=2, metavar="REPORT", help="`tailforge evaluate --json` reports")
    accuracy.add_argument("--names", nargs=2, metavar="NAME", help="panel titles (default: the report file names)")
    accuracy.add_argument("--train", help="the long-tailed training file, for reports written without evaluate --train")
    accuracy.add_argument("-o", "--output", required=True, help="PNG file to write")

    kappa = sub.add_parser("kappa", help="histogram of the synthetic rows' κ, one panel per balanced file")
    kappa.add_argument("balanced", nargs="+", help="`tailforge balance` outputs (vmf or gaussian sampler)")
    kappa.add_argument("--names", nargs="+", metavar="NAME", help="panel titles (default: the files' κ policy and sampler)")
    kappa.add_argument("-o", "--output", required=True, help="PNG file to write")

    projection = sub.add_parser("projection", help="PCA of one few-shot class's real and synthetic rows among its nearest classes")
    add_projection_options(projection)
    projection.add_argument("balanced", help="a `tailforge balance` output")
    projection.add_argument("-o", "--output", required=True, help="PNG file to write")

    every = sub.add_parser("all", help="every plot whose inputs are given, into one directory")
    every.add_argument("--input", help="the long-tailed input file (for counts)")
    every.add_argument("--balanced", nargs="+", default=[], help="balanced files (counts and projection use the first; kappa all)")
    every.add_argument("--reports", nargs=2, metavar="REPORT", help="two evaluate --json reports (for accuracy)")
    every.add_argument("--names", nargs=2, metavar="NAME", help="titles of the two reports")
    every.add_argument("--train", help="the long-tailed training file, for reports written without evaluate --train")
    add_projection_options(every)
    every.add_argument("--out-dir", required=True, help="directory for counts.png, accuracy.png, kappa.png, projection.png (created if missing)")
    return top


def add_projection_options(p):
    p.add_argument("--class", dest="class_", metavar="CLASS", help="class id or name (default: the smallest few-shot class with synthetic rows)")
    p.add_argument("--neighbours", type=int, default=5, help="nearest classes to show, 1–8 (default 5)")
    p.add_argument("--max-points", type=int, default=300, help="at most this many rows drawn per class and kind, ≥ 1 (default 300)")
    p.add_argument("--seed", type=int, default=0, help="seed of the row subsample (default 0)")
    p.add_argument("--test", help="a labelled test file: also draw the class's test rows")


def main(argv):
    args = parser().parse_args(argv)
    # Imported after parsing so that --help works without matplotlib and h5py installed.
    require(["numpy", "h5py", "matplotlib"], "requirements-plots.txt")
    from .accuracy_plot import accuracy_figure
    from .atomic_output import check_output_path
    from .class_count_plot import class_count_figure
    from .evaluation_report import EvaluationReport
    from .hdf5_files import BalancedFile, LabeledEmbeddings
    from .figure_output import save_figure
    from .kappa_plot import kappa_figure
    from .projection_plot import projection_figure

    if args.command in ("projection", "all"):
        if not 1 <= args.neighbours <= 8:
            raise ToolError(f"--neighbours {args.neighbours}: allowed 1…8")
        if args.max_points < 1:
            raise ToolError(f"--max-points {args.max_points}: must be at least 1")

    def inputs_of(*paths):
        return [p for p in paths if p]

    def training_counts():
        return LabeledEmbeddings(args.train, role="training file").counts() if args.train else None

    def report_names(reports, names):
        return names or [os.path.splitext(os.path.basename(p))[0] for p in reports]

    def kappa_names(files, names):
        if names and len(names) != len(files):
            raise ToolError(f"--names gives {len(names)} names for {len(files)} balanced files")
        labels = names or [f.policy_label() for f in files]
        if not names and len(set(labels)) < len(labels):  # same policy twice: tell them apart by file
            labels = [f"{label} ({os.path.basename(f.path)})" for label, f in zip(labels, files)]
        return labels

    def projection(balanced, output):
        test = LabeledEmbeddings(args.test, role="test file") if args.test else None
        return save_figure(projection_figure(balanced, args.class_, args.neighbours, args.max_points, args.seed, test), output)

    written = []
    if args.command == "counts":
        check_output_path(args.output, inputs_of(args.input, args.balanced))
        written.append(save_figure(class_count_figure(LabeledEmbeddings(args.input), BalancedFile(args.balanced)), args.output))
    elif args.command == "accuracy":
        check_output_path(args.output, inputs_of(*args.reports, args.train))
        counts = training_counts()
        reports = [EvaluationReport(p, counts) for p in args.reports]
        written.append(save_figure(accuracy_figure(reports, report_names(args.reports, args.names)), args.output))
    elif args.command == "kappa":
        check_output_path(args.output, args.balanced)
        files = [BalancedFile(p) for p in args.balanced]
        written.append(save_figure(kappa_figure(files, kappa_names(files, args.names)), args.output))
    elif args.command == "projection":
        check_output_path(args.output, inputs_of(args.balanced, args.test))
        written.append(projection(BalancedFile(args.balanced), args.output))
    else:
        if not (args.input or args.balanced or args.reports):
            raise ToolError("`plots all` needs at least one of --input with --balanced, --balanced, --reports")
        if args.input and not args.balanced:
            raise ToolError("--input (for the counts plot) needs --balanced too")
        if os.path.exists(args.out_dir) and not os.path.isdir(args.out_dir):
            raise ToolError(f"--out-dir {args.out_dir} exists and is not a directory")
        os.makedirs(args.out_dir, exist_ok=True)
        out = lambda name: os.path.join(args.out_dir, name)  # noqa: E731
        balanced = [BalancedFile(p) for p in args.balanced]
        if args.input:
            written.append(save_figure(class_count_figure(LabeledEmbeddings(args.input), balanced[0]), out("counts.png")))
        if args.reports:
            counts = training_counts()
            reports = [EvaluationReport(p, counts) for p in args.reports]
            written.append(save_figure(accuracy_figure(reports, report_names(args.reports, args.names)), out("accuracy.png")))
        with_kappa = [f for f in balanced if (f.is_synthetic & (f.kappa > 0)).any()]
        if with_kappa:
            written.append(save_figure(kappa_figure(with_kappa, kappa_names(with_kappa, None)), out("kappa.png")))
        if balanced:
            written.append(projection(balanced[0], out("projection.png")))
    for path in written:
        print(path)
