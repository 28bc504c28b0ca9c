"""The guest kernel: download Debian's, find module load order, unpack ``vmlinux``.

Debian's ``linux-image-amd64`` is a meta package; it depends on the current kernel package
(``linux-image-6.1.0-NN-amd64``). That package is fetched with ``apt-get download`` (never
installed) and unpacked with ``dpkg -x``. It ships no ``modules.dep`` and the host has no kmod, so
``busybox depmod`` writes one.
"""

from __future__ import annotations

import gzip
import lzma
import os
import re
import shutil
import struct
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from parallax.lab.errors import LabError

META_PACKAGE = "linux-image-amd64"

#: Modules the guest loads, dependencies first (their own dependencies are added from
#: modules.dep): the virtio transport, consoles and 9p for the shares, overlayfs for the writable
#: root, then the drivers under test.
WANTED_MODULES: tuple[str, ...] = (
    "virtio_pci",
    "virtio_console",
    "9pnet_virtio",
    "9p",
    "overlay",
    "vivid",
    "snd-aloop",
    "snd-dummy",
)

_XZ_MAGIC = b"\xfd7zXZ\x00"
_GZIP_MAGIC = b"\x1f\x8b"
_LZMA_MAGIC = b"\x5d\x00\x00"


def module_name(path: str) -> str:
    """Return the canonical module name of a ``.ko`` path.

    The kernel treats ``-`` and ``_`` in module names alike; the canonical form uses ``_``.

    Parameters
    ----------
    path
        A path such as ``kernel/sound/drivers/snd-aloop.ko`` (compressed suffixes allowed).

    Returns
    -------
    str
        For example ``snd_aloop``.
    """
    base = path.rsplit("/", 1)[-1]
    base = re.sub(r"\.ko(\.(xz|zst|gz))?$", "", base)
    return base.replace("-", "_")


def parse_modules_dep(text: str) -> dict[str, tuple[str, list[str]]]:
    """Parse a ``modules.dep`` file.

    Parameters
    ----------
    text
        Lines of the form ``path.ko: dep1.ko dep2.ko``.

    Returns
    -------
    dict
        Canonical module name -> (path of the module, paths of the modules it depends on).
    """
    table: dict[str, tuple[str, list[str]]] = {}
    for line in text.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, sep, deps = line.partition(":")
        if not sep:
            raise LabError(f"malformed modules.dep line: {line!r}")
        table[module_name(path.strip())] = (path.strip(), deps.split())
    return table


def load_order(dep_table: Mapping[str, tuple[str, list[str]]], wanted: Iterable[str]) -> list[str]:
    """Order the modules to insmod so that each comes after everything it depends on.

    Parameters
    ----------
    dep_table
        As returned by `parse_modules_dep`.
    wanted
        Module names (``-`` or ``_``) to load; their dependencies are added.

    Returns
    -------
    list of str
        Module paths (as in modules.dep), dependencies first, each once.

    Raises
    ------
    LabError
        A wanted module or a dependency is not in the table, or dependencies form a cycle.
    """
    order: list[str] = []
    done: set[str] = set()
    visiting: set[str] = set()

    def visit(name: str, needed_by: str | None) -> None:
        if name in done:
            return
        if name in visiting:
            raise LabError(f"module dependency cycle through {name}")
        if name not in dep_table:
            by = f" (needed by {needed_by})" if needed_by else ""
            raise LabError(f"kernel module {name}{by} is not in modules.dep")
        visiting.add(name)
        path, deps = dep_table[name]
        for dep in deps:
            visit(module_name(dep), name)
        visiting.discard(name)
        done.add(name)
        order.append(path)

    for name in wanted:
        visit(module_name(name), None)
    return order


def resolve_package(meta: str = META_PACKAGE) -> str:
    """Name the kernel package that the meta package depends on now.

    Parameters
    ----------
    meta
        The meta package, ``linux-image-amd64``.

    Returns
    -------
    str
        For example ``linux-image-6.1.0-56-amd64``.

    Raises
    ------
    LabError
        apt knows no such package (its lists may be empty: run ``apt-get update``).
    """
    proc = _run_tool(["apt-cache", "depends", "--important", meta], what="apt-cache")
    return parse_apt_depends(proc.stdout, meta)


def parse_apt_depends(text: str, meta: str = META_PACKAGE) -> str:
    """Find the ``linux-image-*`` dependency in ``apt-cache depends`` output.

    Parameters
    ----------
    text
        The output of ``apt-cache depends linux-image-amd64``.
    meta
        The meta package (for the error message).

    Returns
    -------
    str
        The kernel package name.
    """
    for line in text.splitlines():
        match = re.match(r"\s*\|?Depends:\s*(linux-image-\S+)", line)
        if match and match.group(1) != meta:
            return match.group(1)
    raise LabError(
        f"apt does not know which kernel {meta} depends on; run 'apt-get update' "
        f"(apt-cache printed: {text.strip()[:200]!r})"
    )


def download_package(package: str, directory: Path) -> Path:
    """Download a Debian package file (without installing it) with ``apt-get download``.

    Parameters
    ----------
    package
        The package name.
    directory
        Where the ``.deb`` is written.

    Returns
    -------
    Path
        The downloaded ``.deb``.
    """
    directory.mkdir(parents=True, exist_ok=True)
    _run_tool(["apt-get", "download", "-q", package], what="apt-get download", cwd=directory)
    debs = sorted(directory.glob(f"{package}_*.deb"))
    if not debs:
        raise LabError(f"apt-get download {package} wrote no .deb into {directory}")
    return debs[-1]


def unpack_package(deb: Path, root: Path) -> str:
    """Unpack a kernel package with ``dpkg -x`` and write its ``modules.dep`` (busybox depmod).

    Parameters
    ----------
    deb
        The kernel ``.deb``.
    root
        An empty directory to unpack into.

    Returns
    -------
    str
        The kernel release (the directory name under ``lib/modules``), e.g. ``6.1.0-56-amd64``.
    """
    _run_tool(["dpkg", "-x", str(deb), str(root)], what="dpkg -x")
    modules = root / "lib" / "modules"
    releases = sorted(p.name for p in modules.iterdir()) if modules.is_dir() else []
    if len(releases) != 1:
        raise LabError(f"{deb.name} has {len(releases)} module trees, expected one: {releases}")
    release = releases[0]
    if not (modules / release / "modules.dep").exists():
        busybox = find_busybox()
        _run_tool([str(busybox), "depmod", "-b", str(root), release], what="busybox depmod")
    return release


def find_kernel_image(root: Path, release: str) -> Path:
    """Return the ``vmlinuz`` (bzImage) of an unpacked kernel package."""
    for candidate in (root / "boot" / f"vmlinuz-{release}", root / "vmlinuz"):
        if candidate.exists():
            return candidate
    raise LabError(f"no boot/vmlinuz-{release} in the kernel package")


def extract_vmlinux(bzimage: bytes) -> bytes | None:
    """Decompress the ELF ``vmlinux`` out of an x86 bzImage.

    qemu boots the ELF directly through its PVH entry note, which skips the (slow, under TCG)
    in-guest decompression: about 6 s per boot.

    Parameters
    ----------
    bzimage
        The contents of ``vmlinuz``.

    Returns
    -------
    bytes or None
        The ELF image, or None when the payload is in a format the standard library cannot
        decompress (then boot the bzImage itself).
    """
    if len(bzimage) < 0x250 or bzimage[0x202:0x206] != b"HdrS":
        return None
    setup_sects = bzimage[0x1F1] or 4
    payload_offset, payload_length = struct.unpack_from("<II", bzimage, 0x248)
    start = (setup_sects + 1) * 512 + payload_offset
    payload = bzimage[start : start + payload_length]
    try:
        if payload.startswith(_XZ_MAGIC):
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(payload)
        elif payload.startswith(_LZMA_MAGIC):
            elf = lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(payload)
        elif payload.startswith(_GZIP_MAGIC):
            elf = gzip.decompress(payload)
        else:
            return None
    except (lzma.LZMAError, OSError, EOFError):
        return None
    return elf if elf.startswith(b"\x7fELF") else None


def find_busybox() -> Path:
    """Return the host's static busybox (package ``busybox-static``).

    Raises
    ------
    LabError
        busybox is missing or dynamically linked (it must run in the bare initramfs).
    """
    found = shutil.which("busybox") or ("/bin/busybox" if os.path.exists("/bin/busybox") else None)
    if found is None:
        raise LabError("busybox not found; install it: apt-get install busybox-static")
    path = Path(found).resolve()
    if not is_static_elf(path.read_bytes()):
        raise LabError(
            f"{path} is dynamically linked; install a static one: apt-get install busybox-static"
        )
    return path


def is_static_elf(data: bytes) -> bool:
    """Tell whether a 64-bit little-endian ELF has no program interpreter (``PT_INTERP``)."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return False
    phoff = struct.unpack_from("<Q", data, 0x20)[0]
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    pt_interp = 3
    for i in range(phnum):
        (p_type,) = struct.unpack_from("<I", data, phoff + i * phentsize)
        if p_type == pt_interp:
            return False
    return True


def _run_tool(
    argv: Sequence[str], *, what: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    if shutil.which(argv[0]) is None and not os.path.isabs(argv[0]):
        raise LabError(f"{argv[0]} not found; the lab needs a Debian host (apt, dpkg)")
    try:
        proc = subprocess.run(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{what} did not finish in {exc.timeout:.0f} s: {' '.join(argv)}") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip()[-800:]
        raise LabError(f"{what} failed (exit {proc.returncode}): {' '.join(argv)}\n{detail}")
    return proc
