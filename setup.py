"""memcg-zombies: which memory cgroups are dying, what pins them, did reparenting happen."""

from setuptools import setup

setup(
    name="memcg-zombies",
    version="0.1.0",
    description=__doc__,
    packages=["memcg_zombies", "memcg_zombies.pinners"],
    package_dir={"memcg_zombies": "analyzers", "memcg_zombies.pinners": "analyzers/pinners"},
    package_data={"memcg_zombies": ["schema.json"]},
    python_requires=">=3.9",
    entry_points={"console_scripts": ["memcg-zombies = memcg_zombies.cli:main"]},
)
