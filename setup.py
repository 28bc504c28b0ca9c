"""Build the Cython extensions; everything else lives in pyproject.toml.

Each extension is listed by hand: its source in ``_ext/``, built as ``parallax._ext.<name>``.
Generated C goes to ``build/cython`` so the tree holds only what people write.
"""

import shlex
import subprocess

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# Compiler directives for every module. Per-function directives (boundscheck, wraparound,
# cdivision) are set in the sources next to the reason they are safe.
DIRECTIVES = {"language_level": 3, "embedsignature": True}


def pkg_config_include_dirs(package: str) -> list[str]:
    """Include directories of a pkg-config package (``-I`` flags of ``--cflags``)."""
    try:
        flags = subprocess.run(
            ["pkg-config", "--cflags-only-I", package], check=True, capture_output=True, text=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise SystemExit(
            f"pkg-config cannot find {package} ({error}); install its -dev package "
            "(`make all` does: tools/ensure-apt)"
        ) from None
    return [flag[2:] for flag in shlex.split(flags) if flag.startswith("-I")]


# name -> extra Extension keyword arguments
EXTENSIONS: dict[str, dict[str, object]] = {
    "pts": {},
    "alsa": {"libraries": ["asound"]},
    "drift": {},
    "pipewire": {
        "include_dirs": pkg_config_include_dirs("libpipewire-0.3"),
        "libraries": ["pipewire-0.3"],
        "define_macros": [("_REENTRANT", None)],
    },
    "v4l2": {},
    "resample": {},
    "convert": {},
}


def extension(name: str, options: dict[str, object]) -> Extension:
    options = dict(options)
    include_dirs = ["_ext", numpy.get_include(), *options.pop("include_dirs", [])]  # type: ignore[misc]
    define_macros = [
        ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION"),
        *options.pop("define_macros", []),  # type: ignore[misc]
    ]
    return Extension(
        f"parallax._ext.{name}",
        [f"_ext/{name}.pyx"],
        include_dirs=include_dirs,
        define_macros=define_macros,
        extra_compile_args=["-O3"],
        **options,  # type: ignore[arg-type]
    )


setup(
    ext_modules=cythonize(
        [extension(name, options) for name, options in EXTENSIONS.items()],
        include_path=["_ext"],
        compiler_directives=DIRECTIVES,
        build_dir="build/cython",
    )
)
