"""
Rendering
---------

A :class:`~memcg_zombies.report.Report` as text for a terminal
(:mod:`~memcg_zombies.render.text`), Markdown for a bug tracker
(:mod:`~memcg_zombies.render.markdown`) or JSON, one document or JSON Lines
(:mod:`~memcg_zombies.render.json`, schema ``memcg-zombies/2`` in ``schema.json``). Each reads only the report model.
"""

from memcg_zombies.render.json import render_json, render_jsonl, write_json, write_jsonl
from memcg_zombies.render.markdown import render_markdown
from memcg_zombies.render.text import COLUMNS, flag_names, render_memcgs, render_text

__all__ = ("render_json", "write_json", "render_jsonl", "write_jsonl", "render_text", "render_markdown", "render_memcgs",
           "flag_names", "COLUMNS")
