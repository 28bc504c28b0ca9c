"""Command line: ``python -m parallax.lab {prepare,run}``.

``python -m parallax.lab run [OPTIONS] -- CMD ARGS...`` runs CMD in the lab VM, copies its output
through as it arrives and exits with its exit status; it exits 125 when the lab itself failed
(qemu missing, kernel download failed, guest timed out).
``python -m parallax.lab prepare`` downloads the kernel and builds the initramfs into the cache.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from parallax.lab.errors import LabError
from parallax.lab.image import cache_dir, prepare
from parallax.lab.vm import run

#: Exit status when the lab could not run the command (as env(1) and docker use it).
LAB_FAILED = 125


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of ``python -m parallax.lab``."""
    parser = argparse.ArgumentParser(
        prog="python -m parallax.lab",
        description="Run commands in the Parallax qemu lab VM (vivid, snd-aloop, snd-dummy).",
    )
    sub = parser.add_subparsers(dest="action", required=True)
    prep = sub.add_parser("prepare", help="download the kernel and build the initramfs (cached)")
    prep.add_argument("--refresh", action="store_true", help="ask apt for the current kernel")
    runp = sub.add_parser("run", help="run a command in the lab and exit with its status")
    runp.add_argument("--timeout", type=float, default=600.0, help="seconds, boot included")
    runp.add_argument(
        "--kernel-arg",
        action="append",
        default=[],
        metavar="WORD",
        help="extra kernel command line word, e.g. vivid.n_devs=2 (repeatable)",
    )
    runp.add_argument(
        "--writable",
        action="append",
        default=[],
        metavar="DIR",
        help="host directory the guest may write, at the same path (repeatable)",
    )
    runp.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment variable for the command (repeatable)",
    )
    runp.add_argument("--memory", type=int, default=2048, metavar="MIB", help="guest memory")
    runp.add_argument(
        "--console", action="store_true", help="print the guest console log afterwards"
    )
    runp.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    args = build_parser().parse_args(argv)
    try:
        if args.action == "prepare":
            image = prepare(refresh=args.refresh, verbose=True)
            print(f"lab cache: {cache_dir()}\nkernel: {image.kernel}\ninitrd: {image.initrd}")
            return 0
        command = list(args.command)
        if command[:1] == ["--"]:
            command = command[1:]
        if not command:
            print("python -m parallax.lab run: give a command after --", file=sys.stderr)
            return 2
        env = {}
        for item in args.env:
            name, sep, value = item.partition("=")
            if not sep or not name:
                print(f"--env {item!r}: expected NAME=VALUE", file=sys.stderr)
                return 2
            env[name] = value
        result = run(
            command,
            timeout=args.timeout,
            kernel_args=args.kernel_arg,
            writable=args.writable,
            env=env,
            echo=True,
            memory_mb=args.memory,
            image=prepare(verbose=True),
        )
        if args.console:
            print(result.console, file=sys.stderr)
        boot = f"{result.boot_seconds:.1f} s" if result.boot_seconds is not None else "?"
        print(
            f"parallax.lab: exit {result.returncode}, boot {boot}, total {result.elapsed:.1f} s",
            file=sys.stderr,
        )
        return result.returncode
    except LabError as exc:
        print(f"parallax.lab: error: {exc}", file=sys.stderr)
        return LAB_FAILED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
