"""Build of the C page-scan engine; the metadata is in pyproject.toml."""

import os

from setuptools import Extension, setup

# memcg_zombies._scan (libhelper/), used by scan/c_engine.py when it is importable. It needs
# libkdumpfile-dev; without it the install goes on with the pure-Python engine only,
# unless MZ_REQUIRE_C=1 (as `make libhelper` sets) makes a failed build an error.
_SCAN_EXT = Extension(
    "memcg_zombies._scan",
    sources=["libhelper/python/_scanmodule.c", "libhelper/core/classify.c",
             "libhelper/core/agg.c", "libhelper/core/pcache.c", "libhelper/core/scan.c",
             "libhelper/core/slab.c", "libhelper/readers/kdump.c"],
    libraries=["kdumpfile", "addrxlat", "pthread"],
    extra_compile_args=["-std=gnu99", "-O2", "-Wall", "-Wextra"],
    optional=os.environ.get("MZ_REQUIRE_C") != "1",
)

setup(ext_modules=[_SCAN_EXT])
