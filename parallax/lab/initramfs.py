"""The guest's initramfs: static busybox, the driver modules and an init script, as newc cpio."""

from __future__ import annotations

import hashlib
import io
import stat
from collections.abc import Sequence
from pathlib import Path

#: The guest's PID 1. It loads the modules in /modules.order (parameters from the kernel command
#: line, ``vivid.n_devs=1`` style, as modprobe would pass them), mounts the host root read-only (9p)
#: under a tmpfs overlay, mounts the run directory and the writable shares at their host paths, runs
#: ``RUNDIR/command.sh`` chrooted with stdout/stderr on two virtio serial ports, writes its exit
#: status to ``RUNDIR/rc`` and powers off. Every failure before the command writes
#: ``RUNDIR/init-error``; a failure before the run directory is mounted only shows in the console.
INIT_SCRIPT = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1

cmdline=$(cat /proc/cmdline)
arg() { v=""; for t in $cmdline; do case "$t" in "$1"=*) v=${t#*=};; esac; done; echo "$v"; }
say() { echo "lab-init: $*"; }
die() {
    say "ERROR: $*"
    grep -q " /out " /proc/mounts && echo "$*" > /out/init-error
    sync
    poweroff -f
    sleep 5
    exit 1
}
say "started at $(cut -d' ' -f1 /proc/uptime) s"

while read -r mod; do
    name=${mod%.ko}
    key=$(echo "$name" | tr - _)
    params=""
    for t in $cmdline; do
        case "$t" in "$key".*=*|"$name".*=*) params="$params ${t#*.}";; esac
    done
    insmod "/lib/modules/$mod" $params || die "insmod $mod$params failed"
done < /modules.order
say "modules loaded at $(cut -d' ' -f1 /proc/uptime) s"

nine="trans=virtio,version=9p2000.L,msize=$(arg parallax.msize)"
mkdir -p /out /lower /rw /newroot
mount -t 9p -o "$nine" parallax_run /out || die "cannot mount the run directory share"
rundir=$(arg parallax.rundir)
mount -t 9p -o "$nine,ro,cache=loose" parallax_root /lower || die "cannot mount the host root"
mount -t tmpfs -o mode=0755 tmpfs /rw || die "cannot mount the overlay tmpfs"
mkdir -p /rw/upper /rw/work
mount -t overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work overlay /newroot \
    || die "cannot mount the overlay root"
mount -t proc proc /newroot/proc || die "cannot mount /proc"
mount -t sysfs sysfs /newroot/sys || die "cannot mount /sys"
mount -t devtmpfs devtmpfs /newroot/dev || die "cannot mount /dev"
mkdir -p /newroot/dev/pts /newroot/dev/shm
mount -t devpts devpts /newroot/dev/pts
mount -t tmpfs -o mode=1777 tmpfs /newroot/dev/shm
mkdir -p "/newroot$rundir" && mount -o bind /out "/newroot$rundir" || die "cannot bind $rundir"
while read -r tag path; do
    mkdir -p "/newroot$path" && mount -t 9p -o "$nine" "$tag" "/newroot$path" \
        || die "cannot mount writable share $path"
done < /out/shares

out=""; err=""
for port in /sys/class/virtio-ports/*; do
    case "$(cat "$port/name")" in
        parallax.stdout) out=/dev/${port##*/};;
        parallax.stderr) err=/dev/${port##*/};;
    esac
done
[ -n "$out" ] && [ -n "$err" ] || die "virtio ports parallax.stdout/stderr not found"

cut -d' ' -f1 /proc/uptime > /out/boot-seconds
say "running the command at $(cat /out/boot-seconds) s"
chroot /newroot /bin/sh "$rundir/command.sh" </dev/null >"$out" 2>"$err"
echo $? > /out/rc.tmp && mv /out/rc.tmp /out/rc
say "command exited with $(cat /out/rc) at $(cut -d' ' -f1 /proc/uptime) s"
sync
poweroff -f
sleep 5
"""

_DIRECTORIES = ("bin", "dev", "proc", "sys", "lib", "lib/modules", "out", "lower", "rw", "newroot")


class CpioWriter:
    """Write a newc ("070701") cpio archive, the format the kernel unpacks as initramfs.

    Parameters
    ----------
    stream
        A binary stream to write to.
    """

    def __init__(self, stream: io.BufferedIOBase | io.BytesIO) -> None:
        self._stream = stream
        self._ino = 1

    def add(
        self, name: str, mode: int, data: bytes = b"", *, rdev: tuple[int, int] = (0, 0)
    ) -> None:
        """Add one entry.

        Parameters
        ----------
        name
            Path inside the archive, without a leading ``/``.
        mode
            Full ``st_mode`` (file type and permission bits).
        data
            File contents (regular files and symlink targets).
        rdev
            (major, minor) of a device node.
        """
        encoded = name.encode() + b"\0"
        fields = (
            self._ino,
            mode,
            0,  # uid
            0,  # gid
            2 if stat.S_ISDIR(mode) else 1,
            0,  # mtime: fixed, so that the archive is reproducible
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(encoded),
            0,
        )
        self._ino += 1
        header = b"070701" + b"".join(b"%08X" % value for value in fields)
        self._stream.write(header + encoded)
        self._pad(len(header) + len(encoded))
        self._stream.write(data)
        self._pad(len(data))

    def finish(self) -> None:
        """Write the trailer entry."""
        self.add("TRAILER!!!", 0)

    def _pad(self, length: int) -> None:
        self._stream.write(b"\0" * (-length % 4))


def build_initramfs(busybox: bytes, modules: Sequence[tuple[str, bytes]]) -> bytes:
    """Build the initramfs image (uncompressed newc cpio).

    Parameters
    ----------
    busybox
        A static busybox binary.
    modules
        (file name, contents) of each ``.ko``, in load order.

    Returns
    -------
    bytes
        The archive. It is not compressed: decompressing under TCG costs more than reading it.
    """
    buf = io.BytesIO()
    cpio = CpioWriter(buf)
    for directory in _DIRECTORIES:
        cpio.add(directory, stat.S_IFDIR | 0o755)
    cpio.add("dev/console", stat.S_IFCHR | 0o600, rdev=(5, 1))
    cpio.add("bin/busybox", stat.S_IFREG | 0o755, busybox)
    cpio.add("init", stat.S_IFREG | 0o755, INIT_SCRIPT.encode())
    names = [name for name, _ in modules]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate module file names: {names}")
    for name, data in modules:
        cpio.add(f"lib/modules/{name}", stat.S_IFREG | 0o644, data)
    cpio.add("modules.order", stat.S_IFREG | 0o644, "".join(f"{n}\n" for n in names).encode())
    cpio.finish()
    return buf.getvalue()


def initramfs_key(busybox: bytes, module_paths: Sequence[str]) -> str:
    """Return a short hash naming an initramfs built from these inputs and this init script.

    Parameters
    ----------
    busybox
        The busybox binary.
    module_paths
        Module paths in load order.

    Returns
    -------
    str
        16 hex digits; a change of the init script, busybox or the module list changes it.
    """
    digest = hashlib.sha256()
    digest.update(INIT_SCRIPT.encode())
    digest.update(hashlib.sha256(busybox).digest())
    digest.update("\n".join(module_paths).encode())
    return digest.hexdigest()[:16]


def module_file_names(paths: Sequence[str]) -> list[str]:
    """Return the base file names of module paths (``kernel/x/y/vivid.ko`` -> ``vivid.ko``)."""
    return [Path(p).name for p in paths]
