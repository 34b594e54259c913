"""The one error type the command-line tools print: what was wrong, where, and what to do."""


class ToolError(Exception):
    """A problem with the user's input or environment. The CLI prints the message after `error:` and
    exits with status 1, without a traceback: the message is the whole explanation."""
