"""Errors raised by the lab VM."""

from __future__ import annotations

from parallax.errors import ParallaxError


class LabError(ParallaxError, RuntimeError):
    """The lab VM could not be prepared or did not run the command to its end.

    A command that runs and exits non-zero is not a `LabError`: its exit status is in
    `LabResult.returncode`. The message names what failed and how to fix it.
    """


class LabTimeoutError(LabError):
    """The guest did not power off within the timeout; qemu was killed.

    Parameters
    ----------
    message
        What timed out.
    stdout, stderr
        What the command had written before qemu was killed.
    console
        The guest kernel console log (the tail of it is also in the message).
    """

    def __init__(self, message: str, *, stdout: bytes, stderr: bytes, console: str) -> None:
        super().__init__(message)
        self.stdout = stdout
        self.stderr = stderr
        self.console = console
