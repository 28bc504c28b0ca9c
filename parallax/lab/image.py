"""The lab's boot image (kernel + initramfs), built once and kept in a cache directory.

Layout of the cache (``$PARALLAX_LAB_CACHE``, else ``$XDG_CACHE_HOME/parallax-lab``, else
``~/.cache/parallax-lab``)::

    lock                                    flock held while preparing
    linux-image-6.1.0-56-amd64_6.1.192-2/   one directory per kernel package version
        kernel.deb                          the package as downloaded
        vmlinux                             the uncompressed ELF kernel (or vmlinuz if that failed)
        release                             the kernel release, e.g. 6.1.0-56-amd64
        initramfs-<key>.cpio                busybox + modules + init; key hashes their inputs

A second run finds a complete directory and asks apt nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from parallax.lab import kernel
from parallax.lab.errors import LabError
from parallax.lab.initramfs import build_initramfs, initramfs_key, module_file_names

CACHE_ENV = "PARALLAX_LAB_CACHE"


@dataclass(frozen=True)
class LabImage:
    """What qemu boots.

    Attributes
    ----------
    kernel
        The ELF ``vmlinux`` (or the bzImage when it could not be decompressed).
    initrd
        The initramfs cpio.
    release
        The kernel release, e.g. ``6.1.0-56-amd64``.
    """

    kernel: Path
    initrd: Path
    release: str


def cache_dir() -> Path:
    """Return the lab cache directory (not created)."""
    explicit = os.environ.get(CACHE_ENV)
    if explicit:
        return Path(explicit).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "parallax-lab"


def prepare(*, cache: Path | None = None, refresh: bool = False, verbose: bool = False) -> LabImage:
    """Make sure a kernel and an initramfs are in the cache; download and build what is missing.

    Parameters
    ----------
    cache
        The cache directory; default `cache_dir()`.
    refresh
        Ask apt for the current kernel package even when one is cached.
    verbose
        Say on stderr what is downloaded and built.

    Returns
    -------
    LabImage
        Paths inside the cache.

    Raises
    ------
    LabError
        apt cannot download the kernel, busybox-static is missing, or the package is unusable.
    """
    root = cache if cache is not None else cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / "lock"):
        kdir = None if refresh else _newest_complete(root)
        if kdir is None:
            kdir = _download_kernel(root, verbose=verbose)
        return _ensure_built(kdir, verbose=verbose)


def _newest_complete(root: Path) -> Path | None:
    found = [
        d
        for d in root.iterdir()
        if d.is_dir() and (d / "kernel.deb").is_file() and (d / "vmlinux").is_file()
    ]
    return max(found, key=lambda d: d.stat().st_mtime) if found else None


def _download_kernel(root: Path, *, verbose: bool) -> Path:
    try:
        package = kernel.resolve_package()
    except LabError:
        if not _update_apt_lists(verbose=verbose):
            raise
        package = kernel.resolve_package()
    _say(verbose, f"downloading {package} (apt-get download)")
    with tempfile.TemporaryDirectory(dir=root, prefix=".download-") as tmp:
        try:
            deb = kernel.download_package(package, Path(tmp))
        except LabError:
            if not _update_apt_lists(verbose=verbose):
                raise
            deb = kernel.download_package(package, Path(tmp))
        # linux-image-6.1.0-56-amd64_6.1.192-2_amd64.deb -> linux-image-6.1.0-56-amd64_6.1.192-2
        name = deb.name.removesuffix(".deb").rsplit("_", 1)[0]
        kdir = root / name
        kdir.mkdir(exist_ok=True)
        os.replace(deb, kdir / "kernel.deb")
    return kdir


def _update_apt_lists(*, verbose: bool) -> bool:
    """Run ``apt-get update`` once when root (empty lists are the usual cause of failures)."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return False
    _say(verbose, "apt-get update")
    kernel._run_tool(["apt-get", "update", "-qq"], what="apt-get update")
    return True


def _ensure_built(kdir: Path, *, verbose: bool) -> LabImage:
    busybox = kernel.find_busybox().read_bytes()
    release_file = kdir / "release"
    vmlinux = kdir / "vmlinux"
    order_file = kdir / "modules.order"
    if release_file.is_file() and vmlinux.is_file() and order_file.is_file():
        release = release_file.read_text().strip()
        order = order_file.read_text().split()
        initrd = kdir / f"initramfs-{initramfs_key(busybox, order)}.cpio"
        if initrd.is_file():
            return LabImage(kernel=vmlinux, initrd=initrd, release=release)
    _say(verbose, f"unpacking {kdir.name} and building the initramfs")
    with tempfile.TemporaryDirectory(dir=kdir, prefix=".unpack-") as tmp:
        unpacked = Path(tmp)
        release = kernel.unpack_package(kdir / "kernel.deb", unpacked)
        moddir = unpacked / "lib" / "modules" / release
        table = kernel.parse_modules_dep((moddir / "modules.dep").read_text())
        order = kernel.load_order(table, kernel.WANTED_MODULES)
        modules = [
            (name, (moddir / path).read_bytes())
            for name, path in zip(module_file_names(order), order, strict=True)
        ]
        initrd = kdir / f"initramfs-{initramfs_key(busybox, order)}.cpio"
        _write_atomic(initrd, build_initramfs(busybox, modules))
        bzimage = kernel.find_kernel_image(unpacked, release).read_bytes()
        elf = kernel.extract_vmlinux(bzimage)
        if elf is None:
            _say(verbose, "could not decompress vmlinux; booting the bzImage (slower)")
        _write_atomic(vmlinux, elf if elf is not None else bzimage)
    for old in kdir.glob("initramfs-*.cpio"):
        if old != initrd:
            old.unlink()
    _write_atomic(order_file, "".join(f"{p}\n" for p in order).encode())
    _write_atomic(release_file, f"{release}\n".encode())
    return LabImage(kernel=vmlinux, initrd=initrd, release=release)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    with open(path, "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _say(verbose: bool, message: str) -> None:
    if verbose:
        print(f"parallax.lab: {message}", file=sys.stderr, flush=True)
