# The two commands a new user runs: `make demo` and `make test`. Each sets everything up
# itself (system packages, .venv, extensions) and re-running is fast (stamp files).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMPS := $(VENV)/.stamps

# Debian packages: NAME or NAME=PROBE (the probe skips the package when it already succeeds).
APT_BASE := gcc make \
	python3-dev='$(PYTHON) -c "import sysconfig,os,sys; sys.exit(not os.path.exists(sysconfig.get_paths()[\"include\"]+\"/Python.h\"))"' \
	python3-venv='$(PYTHON) -c "import venv, ensurepip"' \
	linux-libc-dev='test -f /usr/include/linux/videodev2.h'

# Real tools the tests compare against or draw with: ffprobe/ffmpeg (our files read back by
# an independent demuxer; `parallax analyze` checked against FFmpeg's own files), graphviz `dot`
# (Pipeline._repr_svg_), gst-launch-1.0 (the same-run GStreamer baseline of bench_pipeline.py).
APT_TOOLS := ffmpeg='command -v ffmpeg && command -v ffprobe' graphviz='command -v dot' \
	gstreamer1.0-tools='command -v gst-launch-1.0'

# PipeWire: headers to build _ext/pipewire.pyx; the daemon, session manager, tools and a
# session bus for the private daemon the `pipewire` tests start (tests/pipewire/conftest.py).
APT_PIPEWIRE := pkg-config libpipewire-0.3-dev libspa-0.2-dev libspa-0.2-modules \
	pipewire pipewire-bin wireplumber dbus

# Screen capture tests: a headless wlroots compositor (sway, swaybg paints the screen), the
# ScreenCast portal, and what tools/build-xdpw needs to build the patched xdg-desktop-portal-wlr
# from Debian's source package (dpkg-dev unpacks it; meson, ninja and the -dev packages build it).
APT_SCREEN := sway swaybg xdg-desktop-portal dpkg-dev patch meson ninja-build \
	libinih-dev libsystemd-dev libwayland-dev wayland-protocols libgbm-dev libdrm-dev

# ALSA headers: pyalsaaudio builds from source and _ext/alsa.pyx includes <alsa/asoundlib.h>.
APT_ALSA := libasound2-dev='test -f /usr/include/alsa/asoundlib.h'

EXT_SOURCES := $(wildcard _ext/*.pyx _ext/*.pxd _ext/*.h) setup.py

.PHONY: all demo test lint unit bench clean distclean

all: $(STAMPS)/ext

$(STAMPS)/apt-base:
	tools/ensure-apt $(APT_BASE)
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/apt-tools:
	tools/ensure-apt $(APT_TOOLS)
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/apt-pipewire:
	tools/ensure-apt $(APT_PIPEWIRE)
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/apt-screen:
	tools/ensure-apt $(APT_SCREEN)
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/apt-alsa:
	tools/ensure-apt $(APT_ALSA)
	mkdir -p $(STAMPS) && touch $@

# setup.py asks pkg-config for libpipewire even to write metadata: the headers come first
$(STAMPS)/venv: $(STAMPS)/apt-base $(STAMPS)/apt-alsa $(STAMPS)/apt-pipewire pyproject.toml
	[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "Cython>=3.0,<4" "numpy>=1.26" "setuptools>=77" wheel
	$(PY) -m pip install -q --no-build-isolation -e '.[dev]'
	mkdir -p $(STAMPS) && touch $@

$(STAMPS)/ext: $(STAMPS)/venv $(STAMPS)/apt-pipewire $(EXT_SOURCES)
	$(PY) setup.py -q build_ext --inplace
	touch $@

demo: $(STAMPS)/ext
	$(PY) -m parallax demo

lint: $(STAMPS)/ext
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit: $(STAMPS)/ext $(STAMPS)/apt-lab $(STAMPS)/apt-tools $(STAMPS)/apt-screen
	$(VENV)/bin/pytest -q -m "not lab"

# lint, the host tests, the host benchmarks (their ratios are acceptance criteria), then the
# lab tier: one VM boot running the lab tests and lab benchmarks inside
test: lint unit bench lab-test

bench: $(STAMPS)/ext $(STAMPS)/apt-tools
	$(VENV)/bin/pytest -q benchmarks --benchmark-enable --benchmark-columns=min,median,mean,ops -p no:cacheprovider

include lab.mk

clean:
	rm -rf build parallax/_ext/*.so $(STAMPS)/ext

distclean: clean
	rm -rf $(VENV) *.egg-info
