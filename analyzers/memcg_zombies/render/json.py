"""
The JSON report (schema ``memcg-zombies/2``, ``schema.json``), written as it goes: one
document (``--format json``) or one object per line (``--format jsonl``).
"""

import io
import json
from typing import TextIO

from memcg_zombies.report import Report

__all__ = ("write_json", "render_json", "write_jsonl", "render_jsonl", "LINE_TYPES")

#: The JSON Lines ``type`` of each list's items.
LINE_TYPES = {"memcgs": "memcg", "zombies": "zombie", "faults": "fault"}


def write_json(report: Report, out: TextIO) -> None:
    """
    The JSON document, one line per memcg, zombie and fault, written as it goes.
    A 100,000-zombie report is ~650 MB: json's ``indent=`` path is pure Python
    (a minute and 10 GB of peak RSS for it), one compact line per item is its C
    encoder, and stays greppable.
    """
    notes = report.notes()
    out.write("{\n")
    for key, value in report.head_dict(notes).items():
        out.write(f"  {json.dumps(key)}: {json.dumps(value)},\n")
    lists = report.list_dicts(notes)
    for i, (key, items) in enumerate(lists.items()):
        out.write(f"  {json.dumps(key)}: [")
        n = 0
        for n, item in enumerate(items, 1):
            out.write(("\n    " if n == 1 else ",\n    ") + json.dumps(item))
        out.write(("\n  ]" if n else "]") + (",\n" if i < len(lists) - 1 else "\n"))
    out.write("}\n")


def write_jsonl(report: Report, out: TextIO) -> None:
    """
    JSON Lines: the same content as :func:`write_json`, one object per line, each with
    its ``type``: "report" (schema, source, kernel, notes), "summary", then one "memcg",
    "zombie" and "fault" per item, for ``jq`` and line-by-line readers.
    """
    notes = report.notes()
    head = report.head_dict(notes)
    summary = head.pop("summary")
    out.write(json.dumps({"type": "report", **head}) + "\n")
    out.write(json.dumps({"type": "summary", **summary}) + "\n")
    for key, items in report.list_dicts(notes).items():
        kind = LINE_TYPES[key]
        for item in items:
            out.write(json.dumps({"type": kind, **item}) + "\n")


def render_json(report: Report) -> str:
    buf = io.StringIO()
    write_json(report, buf)
    return buf.getvalue()


def render_jsonl(report: Report) -> str:
    buf = io.StringIO()
    write_jsonl(report, buf)
    return buf.getvalue()
