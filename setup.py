"""Build the Cython extensions; everything else lives in pyproject.toml.

Each extension is listed by hand: its source in ``_ext/``, built as ``parallax._ext.<name>``.
Generated C goes to ``build/cython`` so the tree holds only what people write.
"""

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup

# Compiler directives for every module. Per-function directives (boundscheck, wraparound,
# cdivision) are set in the sources next to the reason they are safe.
DIRECTIVES = {"language_level": 3, "embedsignature": True}

# name -> extra Extension keyword arguments
EXTENSIONS: dict[str, dict[str, object]] = {
    "pts": {},
    "drift": {},
    "resample": {},
}


def extension(name: str, options: dict[str, object]) -> Extension:
    return Extension(
        f"parallax._ext.{name}",
        [f"_ext/{name}.pyx"],
        include_dirs=["_ext", numpy.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
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
