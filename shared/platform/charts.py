"""Charts as inline SVG, drawn on the server: no JavaScript, no style attributes (presentation attributes
only, which the strict CSP allows), and the same markup works in the PDF. Each chart is an image whose
figures are also given in a data table beside it; the SVG names that table in its description."""

from __future__ import annotations

from markupsafe import Markup, escape

BAR_COLOUR = "#1d4f91"
TEXT_COLOUR = "#1b1b1b"
WIDTH, LABEL_WIDTH, ROW_HEIGHT, VALUE_WIDTH = 640, 230, 22, 60


def bar_chart(chart_id: str, title: str, items: list[tuple[str, int | float | None]], *,
              hidden_mark: str = "[c]") -> Markup:
    """A horizontal bar chart. A value of None (suppressed) gets no bar, only the mark."""
    values = [v for _, v in items if v is not None]
    top = max(values, default=0) or 1
    height = max(1, len(items)) * ROW_HEIGHT + 10
    bar_space = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="{escape(chart_id)}" width="{WIDTH}" '
        f'height="{height}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" font-family="sans-serif" font-size="12">',
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>',
        f'<desc id="{escape(chart_id)}-desc">Bar chart; the same figures are in the table that follows.</desc>',
    ]
    for row, (label, value) in enumerate(items):
        y = row * ROW_HEIGHT + 5
        text_y = y + ROW_HEIGHT * 0.65
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(f'<text x="{LABEL_WIDTH - 8}" y="{text_y:.1f}" text-anchor="end" fill="{TEXT_COLOUR}">{escape(short)}</text>')
        if value is None:
            parts.append(f'<text x="{LABEL_WIDTH + 4}" y="{text_y:.1f}" fill="{TEXT_COLOUR}">{escape(hidden_mark)}</text>')
            continue
        length = bar_space * (value / top) if value else 0
        parts.append(f'<rect x="{LABEL_WIDTH}" y="{y + 3}" width="{length:.1f}" height="{ROW_HEIGHT - 6}" fill="{BAR_COLOUR}"/>')
        shown = f"{value:g}" if isinstance(value, float) else str(value)
        parts.append(f'<text x="{LABEL_WIDTH + length + 4:.1f}" y="{text_y:.1f}" fill="{TEXT_COLOUR}">{escape(shown)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text above is escaped
