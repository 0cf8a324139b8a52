"""svgchart — small hand-written SVG bar charts, standard library only.

A Chart is a title, a subtitle, a legend of series, and panels stacked
top to bottom.  A BarPanel draws grouped vertical bars (one group per
category, one bar per series) on a y axis from 0 with gridlines, the value
above each bar and, optionally, the ratio of the second series to the first
under each group.  Each panel is a <g class="panel" data-title=...>;
every bar is a <rect class="bar"> carrying data-series,
data-category and data-value, so a test (tools/lint/test-svgchart.py) or a
reader can check the picture against the figures.

  chart = Chart("title", "subtitle", ["memcached", "braid"])
  chart.add(BarPanel("throughput", "ops/s", ["-t 1", "-t 2"],
                     {"memcached": [100, 180], "braid": [110, 200]}, ratio=True))
  open("out.svg", "w").write(chart.render())

Used by tools/braid-bench --svg.
"""
import math
from xml.sax.saxutils import escape, quoteattr

WIDTH = 860
MARGIN = 20
FONT = "font-family=\"sans-serif\""
# one colour per series, in order; enough for the two servers and a few more
COLOURS = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#b07aa1"]


def nice_step(top, ticks=5):
    """A round gridline step (1, 2, 2.5 or 5 times a power of ten) that
    divides 0..top into at most about `ticks` parts."""
    if top <= 0:
        return 1.0
    raw = top / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * magnitude >= raw:
            return m * magnitude
    return 10 * magnitude


def axis_number(v):
    """A gridline label: 12000 -> 12k, 2.5 -> 2.5."""
    if v >= 1e6:
        return f"{v / 1e6:g}M"
    if v >= 1e3:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


class Svg:
    """Accumulates elements; attributes are escaped, names with '_' are
    written with '-' (data_value -> data-value, class_ -> class)."""

    def __init__(self):
        self.parts = []

    def element(self, tag, text=None, **attrs):
        a = "".join(f" {k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}" for k, v in attrs.items()
                    if v is not None)
        if text is None:
            self.parts.append(f"<{tag}{a}/>")
        else:
            self.parts.append(f"<{tag}{a}>{escape(str(text))}</{tag}>")

    def begin(self, tag, **attrs):
        """Opens an element that later ones nest in, until end(tag)."""
        self.element(tag, **attrs)
        self.parts[-1] = self.parts[-1][:-2] + ">"

    def end(self, tag):
        self.parts.append(f"</{tag}>")

    def render(self, width, height):
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height:.0f}" '
                f'viewBox="0 0 {width} {height:.0f}" {FONT} font-size="12">')
        background = f'<rect x="0" y="0" width="{width}" height="{height:.0f}" fill="white"/>'
        return "\n".join(['<?xml version="1.0" encoding="UTF-8"?>', head, background] + self.parts +
                         ["</svg>", ""])


class BarPanel:
    """Grouped bars: values[series][i] is the figure of categories[i]
    (None: not measured, no bar).  fmt formats the value labels; with
    ratio=True each group also shows series[1] / series[0]."""

    def __init__(self, title, unit, categories, values, fmt="{:,.0f}", ratio=False, height=230):
        self.title = title
        self.unit = unit
        self.categories = list(categories)
        self.values = values
        self.fmt = fmt
        self.ratio = ratio
        self.height = height

    def top(self):
        figures = [v for vs in self.values.values() for v in vs if v is not None]
        biggest = max(figures, default=0.0)
        if biggest <= 0:
            return 1.0
        step = nice_step(biggest)
        return step * math.ceil(biggest / step * 1.0001)

    def draw(self, svg, series, x, y, width):
        """Draws at (x, y) as a <g class="panel" data-title=...>; returns
        the height used."""
        svg.begin("g", class_="panel", data_title=self.title)
        svg.element("text", f"{self.title} ({self.unit})" if self.unit else self.title,
                    x=x, y=y + 14, font_size=14, font_weight="bold", class_="panel-title")
        left, right = x + 60, x + width - 10
        plot_top, plot_bottom = y + 36, y + self.height - 44
        top = self.top()
        scale = (plot_bottom - plot_top) / top
        step = nice_step(top)
        tick = 0.0
        while tick <= top * 1.0001:
            ty = plot_bottom - tick * scale
            svg.element("line", x1=left, y1=f"{ty:.1f}", x2=right, y2=f"{ty:.1f}",
                        stroke="#ddd" if tick else "#333", class_="grid" if tick else "axis")
            svg.element("text", axis_number(tick), x=left - 6, y=f"{ty + 4:.1f}", text_anchor="end",
                        fill="#555", class_="tick")
            tick += step
        svg.element("line", x1=left, y1=plot_top, x2=left, y2=plot_bottom, stroke="#333", class_="axis")
        group = (right - left) / max(1, len(self.categories))
        bar = min(60.0, group * 0.8 / max(1, len(series)))
        for i, category in enumerate(self.categories):
            gx = left + group * i + (group - bar * len(series)) / 2
            for j, name in enumerate(series):
                v = self.values.get(name, [None] * len(self.categories))[i]
                if v is None:
                    continue
                h = v * scale
                bx = gx + j * bar
                svg.element("rect", x=f"{bx:.1f}", y=f"{plot_bottom - h:.1f}", width=f"{bar - 2:.1f}",
                            height=f"{h:.1f}", fill=COLOURS[j % len(COLOURS)], class_="bar",
                            data_series=name, data_category=category, data_value=f"{v:g}")
                svg.element("text", self.fmt.format(v), x=f"{bx + (bar - 2) / 2:.1f}",
                            y=f"{plot_bottom - h - 4:.1f}", text_anchor="middle", font_size=10,
                            class_="value")
            cx = left + group * i + group / 2
            svg.element("text", category, x=f"{cx:.1f}", y=plot_bottom + 16, text_anchor="middle",
                        class_="category")
            note = self.ratio_note(series, i)
            if note:
                svg.element("text", note, x=f"{cx:.1f}", y=plot_bottom + 32, text_anchor="middle",
                            fill="#555", class_="ratio")
        svg.end("g")
        return self.height

    def ratio_note(self, series, i):
        if not self.ratio or len(series) < 2:
            return None
        a = self.values.get(series[0], [None] * len(self.categories))[i]
        b = self.values.get(series[1], [None] * len(self.categories))[i]
        if a is None or b is None or a == 0:
            return None
        return f"{series[1]}/{series[0]} {b / a:.2f}x"


class Chart:
    def __init__(self, title, subtitle, series):
        self.title = title
        self.subtitle = subtitle
        self.series = list(series)
        self.panels = []

    def add(self, panel):
        self.panels.append(panel)

    def render(self):
        svg = Svg()
        svg.element("text", self.title, x=MARGIN, y=28, font_size=18, font_weight="bold", class_="title")
        svg.element("text", self.subtitle, x=MARGIN, y=48, fill="#555", class_="subtitle")
        lx = MARGIN
        for j, name in enumerate(self.series):
            svg.element("rect", x=lx, y=60, width=12, height=12, fill=COLOURS[j % len(COLOURS)],
                        class_="legend-swatch")
            svg.element("text", name, x=lx + 18, y=71, class_="legend")
            lx += 30 + 8 * len(name)
        y = 90
        if not self.panels:
            svg.element("text", "no figures", x=MARGIN, y=y + 20, class_="empty")
            y += 40
        for panel in self.panels:
            y += panel.draw(svg, self.series, MARGIN, y, WIDTH - 2 * MARGIN) + 10
        return svg.render(WIDTH, y + MARGIN)
