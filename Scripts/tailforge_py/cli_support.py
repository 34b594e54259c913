"""What both command-line tools share: importing third-party packages with an install hint, and turning
ToolError and interrupts into a message and an exit status instead of a traceback."""

import importlib
import os
import signal
import sys

from .atomic_output import Interrupted
from .tool_error import ToolError

SCRIPTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def require(modules, requirements):
    """Imports `modules` or exits 1 naming the missing one and the requirements file that installs it."""
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            path = os.path.join(SCRIPTS, requirements)
            sys.exit(f"error: Python package '{module}' is missing or broken ({error}); install with: "
                     f"python3 -m pip install -r {os.path.relpath(path)}")


def run(main, argv):
    """Runs `main(argv)`: ToolError → message, exit 1; Ctrl-C → exit 130 (SIGTERM 143, SIGHUP 129)."""
    try:
        # A launcher's thread that blocks signals (a thread pool's worker) passes its mask on through exec: a Ctrl-C
        # would stay pending until the tool had written its output. Unblock them, as tailforge's own
        # TemporaryFileRegistry.c does; a signal a parent set to ignored stays ignored (Python keeps it so, as
        # tailforge does), as `cmd &` in a script asks for.
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP})
        main(argv)
    except ToolError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    except Interrupted as interrupt:
        print(f"interrupted ({interrupt}): no output written", file=sys.stderr)
        sys.exit(128 + interrupt.signum)
    except KeyboardInterrupt:
        print("interrupted: no output written", file=sys.stderr)
        sys.exit(130)
