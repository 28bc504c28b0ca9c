"""The qemu lab VM: run tests against real kernel drivers (vivid, snd-aloop, snd-dummy).

`run` boots Debian's kernel under qemu with a busybox initramfs that loads the drivers, shares the
host root read-only (tmpfs overlay on top), runs one command as root in the same directory and
returns its exit status and output. `prepare` downloads the kernel and builds the initramfs into
the cache (`cache_dir`); `run` calls it. See docs/lab.md.

Examples
--------
>>> from parallax import lab
>>> result = lab.run(["v4l2-ctl", "--all"], timeout=120)  # doctest: +SKIP
>>> result.returncode, b"vivid" in result.stdout  # doctest: +SKIP
(0, True)
"""

from parallax.lab.errors import LabError, LabTimeoutError
from parallax.lab.image import LabImage, cache_dir, prepare
from parallax.lab.vm import LabResult, run

__all__ = [
    "LabError",
    "LabImage",
    "LabResult",
    "LabTimeoutError",
    "cache_dir",
    "prepare",
    "run",
]
