"""The Jinja2 environment of the staff pages and the HTML report (autoescape always on)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from bot.staff import charts, queries

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(bar_chart=charts.bar_chart, label=queries.label,
                       sentiments=queries.SENTIMENTS, about_you=queries.about_you_tables)
    return env


def render(template: str, **context) -> str:
    return environment().get_template(template).render(**context)
