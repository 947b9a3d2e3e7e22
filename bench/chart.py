"""An SVG bar chart of a comparison: one group per endpoint, the project beside the bare app.

Hand-written SVG: a picture a person can open in any browser, with no plotting library.
"""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, MARGIN = 720, 360, 60
COLOURS = {"project": "#2f6fb0", "bare": "#9aa5b1"}


def render(report: dict) -> str:
    """The chart for ``compare.py``'s report: median requests/s, both ratios, p50/p99."""
    summary = report["summary"]
    peak = max(max(s["project_rps"], s["bare_rps"]) for s in summary.values()) or 1
    plot_h = HEIGHT - 2 * MARGIN
    group_w = (WIDTH - 2 * MARGIN) / len(summary)
    bar_w = group_w / 3
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
             f'font-family="sans-serif" font-size="12">',
             f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
             f'<text x="{MARGIN}" y="24" font-size="15">Requests/s, median of '
             f'{report["settings"]["rounds"]} alternating rounds '
             f'({escape(str(report["settings"]["gunicorn"]))})</text>']
    for i, (endpoint, s) in enumerate(summary.items()):
        x0 = MARGIN + i * group_w + bar_w / 2
        for j, target in enumerate(("project", "bare")):
            rps = s[f"{target}_rps"]
            h = plot_h * rps / peak
            x, y = x0 + j * bar_w, HEIGHT - MARGIN - h
            parts += [f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar_w * 0.9:.1f}" '
                      f'height="{h:.1f}" fill="{COLOURS[target]}"/>',
                      f'<text x="{x + bar_w * 0.45:.1f}" y="{y - 4:.1f}" text-anchor="middle">'
                      f'{rps:.0f}</text>',
                      f'<text x="{x + bar_w * 0.45:.1f}" y="{HEIGHT - MARGIN + 14}" '
                      f'text-anchor="middle">{target}</text>',
                      f'<text x="{x + bar_w * 0.45:.1f}" y="{HEIGHT - MARGIN + 28}" '
                      f'text-anchor="middle" font-size="10">p50 {s[f"{target}_p50_ms"]:.1f} / '
                      f'p99 {s[f"{target}_p99_ms"]:.1f} ms</text>']
        parts.append(f'<text x="{x0 + bar_w:.1f}" y="{HEIGHT - 12}" text-anchor="middle" '
                     f'font-weight="bold">{escape(endpoint)}: {s["ratio_median"]:.2f}x req/s, '
                     f'{s["cpu_ratio_median"]:.2f}x CPU</text>')
    parts.append("</svg>")
    return "\n".join(parts)
