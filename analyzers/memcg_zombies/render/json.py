"""The JSON report (schema ``memcg-zombies/1``, ``schema.json``), written as it goes."""

import io
import json
from typing import TextIO

from memcg_zombies.report import Report

__all__ = ("write_json", "render_json")


def write_json(report: Report, out: TextIO) -> None:
    """
    The JSON document, one line per memcg, zombie and fault, written as it goes.
    A 100,000-zombie report is ~650 MB: json's ``indent=`` path is pure Python
    (a minute and 10 GB of peak RSS for it), one compact line per item is its C
    encoder, and stays greppable.
    """
    items = report.lists()
    out.write("{\n")
    for key, value in report.head_dict().items():
        out.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    for i, (key, values) in enumerate(items.items()):
        out.write(f"  {json.dumps(key)}: [")
        for j, item in enumerate(values):
            out.write(("\n    " if j == 0 else ",\n    ") + json.dumps(item.to_dict()))
        out.write(("\n  ]" if values else "]") + (",\n" if i < len(items) - 1 else "\n"))
    out.write("}\n")


def render_json(report: Report) -> str:
    buf = io.StringIO()
    write_json(report, buf)
    return buf.getvalue()
