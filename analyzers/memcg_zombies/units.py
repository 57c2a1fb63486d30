"""
How amounts are written: bytes in binary units, a count's unit agreeing with it.
Read by the analysis (verdicts) and by the renderers alike.
"""

from typing import Optional

__all__ = ("human_bytes", "unit_of")

_SINGULAR = {"pages": "page", "refs": "ref", "objects": "object", "entries": "entry"}


def unit_of(count: int, unit: str) -> str:
    """"1 page", "2 pages": a pin's unit agreeing with its count."""
    return _SINGULAR.get(unit, unit) if count == 1 else unit


def human_bytes(n: Optional[int]) -> str:
    if n is None:
        return "-"
    size: float = n
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return str(size)
