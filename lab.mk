# The qemu lab VM (parallax/lab, docs/lab.md): real vivid, snd-aloop and snd-dummy drivers in a
# TCG guest. Included by the Makefile, which defines PY, VENV and STAMPS.
#
#   make lab-test                          boot once, run `pytest -m lab` inside
#   make lab-test LAB_ARGS='tests/lab -x'  other pytest arguments (default: tests benchmarks)
#   make lab-shell-check                   one command in the lab, to see it boot
#   make bench-lab                         the lab benchmarks (benchmarks/ marked lab)
#
# `make test` = lint + host tests (`pytest -m "not lab"`, which need $(STAMPS)/apt-lab for the
# real-boot host tests) + host benchmarks + lab-test (lab tests and lab benchmarks, one boot).

# Debian packages of the lab (tools/ensure-apt installs the missing ones).
APT_LAB := qemu-system-x86='command -v qemu-system-x86_64' \
	busybox-static \
	v4l-utils='command -v v4l2-ctl' \
	alsa-utils='command -v aplay'

# What the guest needs from the repo: the venv with parallax installed and built.
LAB_DEPS ?= $(STAMPS)/ext
# Seconds for the whole guest run, boot included (pytest-timeout still limits each test).
LAB_TIMEOUT ?= 1800
# Extra pytest arguments.
LAB_ARGS ?=
# Host directory the guest writes results into (junit XML).
LAB_OUT := build/lab

.PHONY: lab-prepare lab-test lab-shell-check bench-lab

$(STAMPS)/apt-lab:
	tools/ensure-apt $(APT_LAB)
	mkdir -p $(STAMPS) && touch $@

# Download the kernel and build the initramfs into the cache (~/.cache/parallax-lab or
# $PARALLAX_LAB_CACHE); a no-op when cached.
lab-prepare: $(STAMPS)/apt-lab $(LAB_DEPS)
	$(PY) -m parallax.lab prepare

lab-test: lab-prepare
	rm -rf $(LAB_OUT) && mkdir -p $(LAB_OUT)
	$(PY) -m parallax.lab run --timeout $(LAB_TIMEOUT) --writable $(LAB_OUT) -- \
		$(PY) -m pytest -m lab -p no:cacheprovider --basetemp=/tmp/pytest-lab \
		--benchmark-enable --benchmark-columns=min,median,mean \
		--junitxml=$(LAB_OUT)/junit.xml $(or $(LAB_ARGS),tests benchmarks)

lab-shell-check: lab-prepare
	$(PY) -m parallax.lab run --console -- sh -c 'uname -r; ls /dev/video* /dev/snd; cat /proc/asound/cards'

# Benchmarks against the real drivers (benchmarks/ marked lab), timed inside the guest.
bench-lab: lab-prepare
	$(PY) -m parallax.lab run --timeout $(LAB_TIMEOUT) -- \
		$(PY) -m pytest -m lab -p no:cacheprovider --basetemp=/tmp/pytest-lab -s \
		--benchmark-enable --benchmark-columns=min,median,mean,ops $(wildcard benchmarks/bench_*.py) $(LAB_ARGS)
