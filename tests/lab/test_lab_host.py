"""Host side of the lab VM: the pure logic, a fake qemu, and real boots (marked slow)."""

from __future__ import annotations

import lzma
import os
import shutil
import stat
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from parallax import lab
from parallax.lab import __main__ as cli
from parallax.lab import initramfs, kernel, vm
from parallax.lab.image import LabImage

# The shape of Debian 6.1's modules.dep (busybox depmod), trimmed.
MODULES_DEP = """\
kernel/drivers/media/test-drivers/vivid/vivid.ko: kernel/drivers/media/common/videobuf2/videobuf2-v4l2.ko kernel/drivers/media/v4l2-core/videodev.ko kernel/drivers/media/mc/mc.ko
kernel/drivers/media/common/videobuf2/videobuf2-v4l2.ko: kernel/drivers/media/v4l2-core/videodev.ko kernel/drivers/media/mc/mc.ko
kernel/drivers/media/v4l2-core/videodev.ko: kernel/drivers/media/mc/mc.ko
kernel/drivers/media/mc/mc.ko:
kernel/sound/drivers/snd-aloop.ko: kernel/sound/core/snd-pcm.ko kernel/sound/core/snd-timer.ko kernel/sound/core/snd.ko kernel/sound/soundcore.ko
kernel/sound/drivers/snd-dummy.ko: kernel/sound/core/snd-pcm.ko kernel/sound/core/snd-timer.ko kernel/sound/core/snd.ko kernel/sound/soundcore.ko
kernel/sound/core/snd-pcm.ko: kernel/sound/core/snd-timer.ko kernel/sound/core/snd.ko kernel/sound/soundcore.ko
kernel/sound/core/snd-timer.ko: kernel/sound/core/snd.ko kernel/sound/soundcore.ko
kernel/sound/core/snd.ko: kernel/sound/soundcore.ko
kernel/sound/soundcore.ko:
"""  # noqa: E501


def _base(path: str) -> str:
    return path.rsplit("/", 1)[-1]


# -- kernel modules ---------------------------------------------------------------------------


def test_module_name_canonical() -> None:
    assert kernel.module_name("kernel/sound/drivers/snd-aloop.ko") == "snd_aloop"
    assert kernel.module_name("snd_aloop") == "snd_aloop"
    assert kernel.module_name("x/vivid.ko.xz") == "vivid"


def test_load_order_dependencies_first_each_once() -> None:
    table = kernel.parse_modules_dep(MODULES_DEP)
    order = [_base(p) for p in kernel.load_order(table, ["vivid", "snd-aloop", "snd_dummy"])]
    assert order == [
        "mc.ko",
        "videodev.ko",
        "videobuf2-v4l2.ko",
        "vivid.ko",
        "soundcore.ko",
        "snd.ko",
        "snd-timer.ko",
        "snd-pcm.ko",
        "snd-aloop.ko",
        "snd-dummy.ko",
    ]
    for i, path in enumerate(kernel.load_order(table, ["vivid", "snd-dummy"])):
        for dep in table[kernel.module_name(path)][1]:
            assert dep in kernel.load_order(table, ["vivid", "snd-dummy"])[:i]


def test_load_order_missing_module() -> None:
    table = kernel.parse_modules_dep(MODULES_DEP)
    with pytest.raises(lab.LabError, match=r"uvcvideo is not in modules\.dep"):
        kernel.load_order(table, ["uvcvideo"])
    broken = kernel.parse_modules_dep("a.ko: b.ko\n")
    with pytest.raises(lab.LabError, match=r"b \(needed by a\)"):
        kernel.load_order(broken, ["a"])


def test_load_order_cycle() -> None:
    table = kernel.parse_modules_dep("a.ko: b.ko\nb.ko: a.ko\n")
    with pytest.raises(lab.LabError, match="cycle"):
        kernel.load_order(table, ["a"])


def test_parse_modules_dep_malformed() -> None:
    with pytest.raises(lab.LabError, match="malformed"):
        kernel.parse_modules_dep("no colon here\n")


def test_parse_apt_depends() -> None:
    text = "linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n"
    assert kernel.parse_apt_depends(text) == "linux-image-6.1.0-56-amd64"
    with pytest.raises(lab.LabError, match="apt-get update"):
        kernel.parse_apt_depends("linux-image-amd64\n")


# -- kernel image -----------------------------------------------------------------------------


def _bzimage(payload: bytes, setup_sects: int = 3) -> bytes:
    image = bytearray((setup_sects + 1) * 512)
    image[0x1F1] = setup_sects
    image[0x202:0x206] = b"HdrS"
    struct.pack_into("<II", image, 0x248, 16, len(payload))
    return bytes(image) + b"\0" * 16 + payload + b"trailer"


def test_extract_vmlinux_xz() -> None:
    elf = b"\x7fELF" + bytes(range(256)) * 10
    payload = lzma.compress(elf, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    assert kernel.extract_vmlinux(_bzimage(payload)) == elf


def test_extract_vmlinux_unknown_format_gives_none() -> None:
    assert kernel.extract_vmlinux(_bzimage(b"\x28\xb5\x2f\xfd zstd")) is None
    assert kernel.extract_vmlinux(b"not a kernel") is None
    not_elf = lzma.compress(b"plain data", format=lzma.FORMAT_XZ)
    assert kernel.extract_vmlinux(_bzimage(not_elf)) is None


def _elf(*p_types: int) -> bytes:
    header = bytearray(64)
    header[:6] = b"\x7fELF\x02\x01"
    struct.pack_into("<Q", header, 0x20, 64)
    struct.pack_into("<HH", header, 0x36, 56, len(p_types))
    return bytes(header) + b"".join(struct.pack("<I", t) + bytes(52) for t in p_types)


def test_is_static_elf() -> None:
    assert kernel.is_static_elf(_elf(1, 1, 4))
    assert not kernel.is_static_elf(_elf(6, 3, 1))  # PT_INTERP: dynamic
    assert not kernel.is_static_elf(b"#!/bin/sh\n")


# -- initramfs --------------------------------------------------------------------------------


def _read_cpio(data: bytes) -> dict[str, tuple[int, bytes, tuple[int, int]]]:
    entries: dict[str, tuple[int, bytes, tuple[int, int]]] = {}
    pos = 0
    while True:
        assert data[pos : pos + 6] == b"070701", pos
        fields = [int(data[pos + 6 + 8 * i : pos + 14 + 8 * i], 16) for i in range(13)]
        mode, size, namesize = fields[1], fields[6], fields[11]
        name_start = pos + 110
        name = data[name_start : name_start + namesize - 1].decode()
        data_start = name_start + namesize + (-(110 + namesize) % 4)
        if name == "TRAILER!!!":
            return entries
        entries[name] = (mode, data[data_start : data_start + size], (fields[9], fields[10]))
        pos = data_start + size + (-size % 4)


def test_build_initramfs_layout() -> None:
    image = initramfs.build_initramfs(b"BUSYBOX", [("mc.ko", b"M" * 5), ("vivid.ko", b"V")])
    assert len(image) % 4 == 0
    entries = _read_cpio(image)
    assert entries["init"][1] == initramfs.INIT_SCRIPT.encode()
    assert entries["init"][0] == stat.S_IFREG | 0o755
    assert entries["bin/busybox"][1] == b"BUSYBOX"
    assert entries["lib/modules/mc.ko"][1] == b"MMMMM"
    assert entries["modules.order"][1] == b"mc.ko\nvivid.ko\n"
    mode, _, rdev = entries["dev/console"]
    assert stat.S_ISCHR(mode) and rdev == (5, 1)
    assert stat.S_ISDIR(entries["newroot"][0])


def test_build_initramfs_rejects_duplicate_names() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        initramfs.build_initramfs(b"", [("a.ko", b""), ("a.ko", b"")])


def test_initramfs_key_tracks_inputs() -> None:
    key = initramfs.initramfs_key(b"bb", ["a.ko", "b.ko"])
    assert key == initramfs.initramfs_key(b"bb", ["a.ko", "b.ko"])
    assert key != initramfs.initramfs_key(b"bb2", ["a.ko", "b.ko"])
    assert key != initramfs.initramfs_key(b"bb", ["b.ko", "a.ko"])


def test_init_script_is_valid_shell() -> None:
    sh = shutil.which("sh")
    assert sh is not None
    subprocess.run([sh, "-n", "-c", initramfs.INIT_SCRIPT], check=True)


# -- qemu command line and guest command ------------------------------------------------------

IMAGE = LabImage(kernel=Path("/c/vmlinux"), initrd=Path("/c/initramfs.cpio"), release="6.1.0-x")


def _qemu_argv(**overrides: object) -> list[str]:
    options: dict[str, object] = {
        "rundir": "/tmp/run",
        "writable": ["/srv/out,x"],
        "kernel_args": ["vivid.n_devs=2"],
        "stdout_fd": 7,
        "stderr_fd": 9,
        "accel": "tcg",
        "memory_mb": 1024,
        "cpus": 2,
    }
    options.update(overrides)
    return vm.qemu_command("qemu", IMAGE, **options)  # type: ignore[arg-type]


def _option(argv: list[str], flag: str) -> list[str]:
    return [argv[i + 1] for i, a in enumerate(argv) if a == flag]


def test_qemu_command_line() -> None:
    argv = _qemu_argv()
    assert _option(argv, "-accel") == ["tcg,thread=multi"]
    assert _option(argv, "-kernel") == ["/c/vmlinux"]
    assert "-no-reboot" in argv
    assert _option(argv, "-add-fd") == ["fd=7,set=1", "fd=9,set=2"]
    chardevs = _option(argv, "-chardev")
    assert "file,id=stdout,path=/dev/fdset/1,append=on" in chardevs
    assert "file,id=stderr,path=/dev/fdset/2,append=on" in chardevs
    fsdevs = _option(argv, "-fsdev")
    assert fsdevs[0].startswith("local,id=parallax_root,path=/,")
    assert fsdevs[0].endswith(",readonly=on")
    assert "readonly" not in fsdevs[1] and "path=/tmp/run," in fsdevs[1]
    assert "id=parallax_w0,path=/srv/out,,x," in fsdevs[2]  # a comma is doubled
    append = _option(argv, "-append")[0].split()
    assert "vivid.n_devs=1" in append
    assert append[-1] == "vivid.n_devs=2"  # later words win
    assert "parallax.rundir=/tmp/run" in append


def test_qemu_command_kvm_and_bad_kernel_arg() -> None:
    argv = _qemu_argv(accel="kvm")
    assert _option(argv, "-accel") == ["kvm"]
    assert _option(argv, "-cpu") == ["host"]
    with pytest.raises(lab.LabError, match="whitespace"):
        _qemu_argv(kernel_args=["a b"])


def test_command_script_quotes_and_runs(tmp_path: Path) -> None:
    script = vm.command_script(
        [
            sys.executable,
            "-c",
            "import os, sys; print(sys.argv[1:], os.getcwd(), os.environ['X'])",
            "it's",
            "$HOME",
        ],
        cwd=str(tmp_path),
        env={"X": "a b'c", "PATH": os.environ["PATH"]},
    )
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout == f"[\"it's\", '$HOME'] {tmp_path} a b'c\n"


def test_command_script_bad_cwd_exits_125(tmp_path: Path) -> None:
    script = vm.command_script(["true"], cwd=str(tmp_path / "missing"), env={})
    assert subprocess.run(["sh", "-c", script], capture_output=True).returncode == 125
    with pytest.raises(lab.LabError, match="no command"):
        vm.command_script([], cwd="/", env={})


def test_guest_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("SECRET_TOKEN", "x")
    env = vm.guest_env({"HOME": "/elsewhere"}, "/tmp/run")
    assert env["PATH"] == os.environ["PATH"]
    assert env["CI"] == "true"
    assert "SECRET_TOKEN" not in env
    assert env["PARALLAX_LAB"] == "1"
    assert env["PARALLAX_LAB_RUNDIR"] == "/tmp/run"
    assert env["HOME"] == "/elsewhere"


def test_choose_accel(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARALLAX_LAB_ACCEL", "tcg")
    assert vm.choose_accel() == "tcg"
    monkeypatch.setenv("PARALLAX_LAB_ACCEL", "hvf")
    with pytest.raises(lab.LabError, match="PARALLAX_LAB_ACCEL"):
        vm.choose_accel()


def test_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PARALLAX_LAB_CACHE", str(tmp_path / "c"))
    assert lab.cache_dir() == tmp_path / "c"
    monkeypatch.delenv("PARALLAX_LAB_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert lab.cache_dir() == tmp_path / "parallax-lab"


# -- run() with a fake qemu: errors and the timeout -------------------------------------------


def _fake_qemu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / vm.QEMU
    fake.write_text(f"#!/bin/sh\n{body}\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PARALLAX_LAB_ACCEL", "tcg")


def test_run_without_qemu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(lab.LabError, match="apt-get install qemu-system-x86"):
        lab.run(["true"], timeout=5, image=IMAGE)


def test_run_timeout_kills_qemu(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    _fake_qemu(tmp_path, monkeypatch, f"echo $$ > {pidfile}\nexec sleep 60")
    start = time.monotonic()
    with pytest.raises(lab.LabTimeoutError, match="within 1 s; qemu was killed"):
        lab.run(["true"], timeout=1, image=IMAGE)
    assert time.monotonic() - start < 10
    pid = int(pidfile.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_run_guest_without_exit_status(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    _fake_qemu(tmp_path, monkeypatch, "echo 'qemu: could not load kernel' >&2; exit 1")
    with pytest.raises(lab.LabError, match="could not load kernel"):
        lab.run(["true"], timeout=10, image=IMAGE)


def test_run_rejects_missing_writable_share(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_qemu(tmp_path, monkeypatch, "exit 1")
    with pytest.raises(lab.LabError, match="not a directory"):
        lab.run(["true"], timeout=10, image=IMAGE, writable=[tmp_path / "missing"])


def test_cli_needs_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--"]) == 2
    assert "give a command" in capsys.readouterr().err
    assert cli.main(["run", "--env", "novalue", "--", "true"]) == 2


# -- real boots (need qemu, busybox-static and the kernel: downloaded on first use) -----------


def _need_lab_tools() -> None:
    # `make unit` installs them first (tools/ensure-apt); a missing one is a real failure.
    missing = [t for t in (vm.QEMU, "busybox", "apt-get") if shutil.which(t) is None]
    assert not missing, f"lab tools missing: {missing} (make test installs them)"


@pytest.mark.slow
def test_real_boot_output_status_and_share(tmp_path: Path) -> None:
    _need_lab_tools()
    share = tmp_path / "share"
    share.mkdir()
    result = lab.run(
        ["sh", "-c", f"echo out; echo err >&2; pwd; echo hi > {share}/f; touch /etc/x; exit 7"],
        timeout=180,
        cwd=tmp_path,
        writable=[share],
    )
    assert result.returncode == 7
    assert result.stdout == f"out\n{tmp_path}\n".encode()
    assert result.stderr == b"err\n"
    assert (share / "f").read_text() == "hi\n"
    assert not Path("/etc/x").exists()  # the overlay kept the write in the guest
    assert result.boot_seconds is not None and 0 < result.boot_seconds < result.elapsed
    assert "lab-init: command exited with 7" in result.console


@pytest.mark.slow
def test_real_boot_timeout() -> None:
    _need_lab_tools()
    image = lab.prepare()
    start = time.monotonic()
    with pytest.raises(lab.LabTimeoutError) as info:
        # 40 s: the guest must boot and print before the timeout even on a loaded 2-core host
        lab.run(["sh", "-c", "echo started; sleep 600"], timeout=40, image=image)
    assert time.monotonic() - start < 55
    assert info.value.stdout == b"started\n"


@pytest.mark.slow
def test_real_boot_init_failure_is_a_lab_error() -> None:
    _need_lab_tools()
    with pytest.raises(lab.LabError, match=r"guest init failed: insmod vivid\.ko .*n_devs=abc"):
        lab.run(["true"], timeout=120, kernel_args=["vivid.n_devs=abc"])
