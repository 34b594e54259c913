"""Write an output file under a hidden temporary name and rename it into place only when complete, as
TailForge's own commands do, so an interrupted or failed run leaves no partial file behind."""

import contextlib
import os
import signal

from .tool_error import ToolError


def check_output_path(path, inputs=(), overwrite=True):
    """Refuses, before any work, an output that is one of the inputs (compared by device and inode, so
    `./x.h5` and links are caught), whose directory does not exist, or that exists when `overwrite` is off."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise ToolError(f"output directory {directory} does not exist: create it first or choose another output path")
    if os.path.isdir(path):
        raise ToolError(f"output {path} is a directory: give a file name")
    if os.path.exists(path):
        for other in inputs:
            if os.path.exists(other) and os.path.samefile(path, other):
                raise ToolError(f"output {path} is also an input ({other}): choose another output path")
        if not overwrite:
            raise ToolError(f"output {path} already exists: pass --overwrite to replace it, or choose another path")


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP while an output is being written; the CLI exits with 128 + `signum`."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextlib.contextmanager
def atomic_output(path):
    """Yields a temporary path beside `path`; renames it to `path` when the block finishes, removes it when
    the block raises (Ctrl-C included). SIGTERM and SIGHUP are turned into KeyboardInterrupt for the
    duration so that they clean up too."""
    directory, name = os.path.split(os.path.abspath(path))
    temporary = os.path.join(directory, f".{name}.tmp-{os.getpid()}")
    previous = {}

    def interrupt(signum, _frame):
        raise Interrupted(signum)

    for signum in (signal.SIGTERM, signal.SIGHUP):
        try:
            previous[signum] = signal.signal(signum, interrupt)
        except ValueError:  # not the main thread: leave signals alone
            pass
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(temporary)
        raise
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
