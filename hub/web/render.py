"""HTML out: Mako templates (escaping by default), money and time formats, and server-side SVG charts."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pygal
from litestar import Response
from mako.lookup import TemplateLookup
from pygal.style import Style

from hub.web.i18n import Lang, translate

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
# the pages' own scripts and styles only; inline SVG charts carry their own <style>
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€"}


@functools.cache
def _lookup() -> TemplateLookup:
    return TemplateLookup(
        directories=[str(TEMPLATES)],
        default_filters=["h"],  # every ${...} is HTML-escaped unless a template says `| n`
        strict_undefined=True,
        input_encoding="utf-8",
    )


def html(
    template: str, status_code: int = 200, headers: dict[str, str] | None = None, **context: Any
) -> Response[str]:
    text = _lookup().get_template(template).render_unicode(**context)
    return Response(
        text,
        status_code=status_code,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, **(headers or {})},
    )


def money(minor: int | None, currency: str | None, lang: Lang) -> str:
    if minor is None:
        return "—"
    whole, cents = divmod(abs(minor), 100)
    grouped = f"{whole:,}".replace(",", "\u202f" if lang == "ru" else ",")
    sep = "," if lang == "ru" else "."
    sign = "-" if minor < 0 else ""
    unit = CURRENCY_SIGNS.get(currency or "", currency or "")
    return f"{sign}{grouped}{sep}{cents:02d}\u00a0{unit}".strip()


def when(at: dt.datetime | None, lang: Lang) -> str:
    if at is None:
        return translate(lang, "conn.never")
    return at.strftime("%Y-%m-%d %H:%M UTC")


def percent(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value * 100:.1f}%"


_CHART_STYLE = Style(
    background="#ffffff",
    plot_background="#ffffff",
    foreground="#1f2937",
    foreground_strong="#111827",
    foreground_subtle="#6b7280",
    font_family="system-ui, sans-serif",
    colors=("#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c"),
    label_font_size=12,
    major_label_font_size=12,
    legend_font_size=13,
    title_font_size=15,
    value_font_size=12,
)


def _svg(chart: Any) -> str:
    """The chart as inline SVG, hidden from screen readers (each chart sits beside a table of its numbers)."""
    text: str = chart.render(is_unicode=True)
    return text.replace("<svg ", '<svg aria-hidden="true" focusable="false" ', 1)


def _config(**extra: Any) -> dict[str, Any]:
    return {
        "style": _CHART_STYLE,
        "js": [],  # no scripts from elsewhere; the pages stay light and work offline
        "disable_xml_declaration": True,
        "explicit_size": False,
        "width": 720,
        "height": 300,
        "show_legend": True,
        "legend_at_bottom": True,
        "margin": 8,
        **extra,
    }


def day_chart(
    days: Sequence[str], visits: Sequence[int], sums: Sequence[float], labels: tuple[str, str]
) -> str:
    """Check sums and visits (on the secondary axis) as bars, one group per day."""
    chart = pygal.Bar(
        **_config(
            x_label_rotation=30,
            show_minor_x_labels=len(days) <= 14,
            range=(0, max(sums, default=0) or 1),
            secondary_range=(0, max(visits, default=0) or 1),
        )
    )
    chart.x_labels = list(days)
    chart.x_labels_major = list(days)[:: max(1, len(days) // 10)]
    chart.add(labels[1], list(sums))
    chart.add(labels[0], list(visits), secondary=True)
    return _svg(chart)


def bar_chart(names: Sequence[str], values: Sequence[float], label: str) -> str:
    chart = pygal.HorizontalBar(
        **_config(
            show_legend=False,
            width=420,
            height=max(140, 36 * len(names) + 60),
            range=(0, max(values, default=0) or 1),
        )
    )
    chart.x_labels = list(names)
    chart.add(label, list(values))
    return _svg(chart)
