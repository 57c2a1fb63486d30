"""memcg-zombies: which memory cgroups are dying, what pins them, did reparenting happen."""

from setuptools import Extension, setup

# The C page-scan engine (libhelper/): memcg_zombies._scan, used by scan.py
# when it is importable. Needs libkdumpfile-dev.
_SCAN_EXT = Extension(
    "memcg_zombies._scan",
    sources=["libhelper/python/_scanmodule.c", "libhelper/core/classify.c",
             "libhelper/core/agg.c", "libhelper/core/pcache.c", "libhelper/core/scan.c", "libhelper/core/slab.c",
             "libhelper/readers/kdump.c"],
    libraries=["kdumpfile", "addrxlat", "pthread"],
    extra_compile_args=["-std=gnu99", "-O2", "-Wall", "-Wextra"],
)

setup(
    name="memcg-zombies",
    version="0.1.0",
    description=__doc__,
    packages=["memcg_zombies", "memcg_zombies.pinners"],
    package_dir={"memcg_zombies": "analyzers", "memcg_zombies.pinners": "analyzers/pinners"},
    package_data={"memcg_zombies": ["schema.json"]},
    python_requires=">=3.9",
    ext_modules=[_SCAN_EXT],
    entry_points={"console_scripts": ["memcg-zombies = memcg_zombies.cli:main"]},
)
