#!/usr/bin/env python3
"""A unit test of tools/svgchart.py and of braid-bench's chart (suite 'lint').

Renders known figures, parses the SVG with xml.etree (it must be
well-formed) and checks the bars, their heights against their values, the
value and ratio labels, the legend, the title and the escaping.  No server
is started.

Usage: test-svgchart.py ROOT   (prints TAP)
"""
import importlib.machinery
import importlib.util
import os
import subprocess
import sys
import xml.etree.ElementTree as ET

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
sys.path.insert(0, os.path.join(root, 'tools'))
import svgchart  # noqa: E402

loader = importlib.machinery.SourceFileLoader('braid_bench', os.path.join(root, 'tools', 'braid-bench'))
spec = importlib.util.spec_from_loader('braid_bench', loader)
bench = importlib.util.module_from_spec(spec)
loader.exec_module(bench)

NS = '{http://www.w3.org/2000/svg}'
results = []


def check(name, cond, detail=''):
    results.append((name, bool(cond), detail))


def parse(text, what):
    try:
        return ET.fromstring(text.encode())
    except ET.ParseError as e:
        check('%s is well-formed XML' % what, False, str(e))
        return ET.fromstring('<svg xmlns="http://www.w3.org/2000/svg"/>')


def by_class(doc, tag, cls):
    return [e for e in doc.iter(NS + tag) if e.get('class') == cls]


def texts(doc):
    return [e.text or '' for e in doc.iter(NS + 'text')]


def bars(doc, panel_prefix=''):
    """{(series, category): (value, height)} of the panels whose title
    starts with panel_prefix."""
    return {(r.get('data-series'), r.get('data-category')): (float(r.get('data-value')), float(r.get('height')))
            for g in by_class(doc, 'g', 'panel') if g.get('data-title', '').startswith(panel_prefix)
            for r in by_class(g, 'rect', 'bar')}


# ---- svgchart on known figures
chart = svgchart.Chart('bench <1> & "2"', 'on a test machine, 2 cores', ['memcached', 'braid'])
chart.add(svgchart.BarPanel('throughput', 'ops/s', ['-t 1', '-t 2'],
                            {'memcached': [1000.0, 2000.0], 'braid': [1100.0, None]}, ratio=True))
text = chart.render()
doc = parse(text, 'a known chart')
check('a known chart is well-formed, its root an svg element', doc.tag == NS + 'svg')
got = bars(doc)
check('one bar per measured figure, none for a missing one',
      sorted(got) == [('braid', '-t 1'), ('memcached', '-t 1'), ('memcached', '-t 2')], sorted(got))
h1, h2 = got[('memcached', '-t 1')][1], got[('memcached', '-t 2')][1]
check('bar heights follow the values', h1 > 0 and abs(h2 / h1 - 2.0) < 0.01, '%s %s' % (h1, h2))
check('bar values are the figures', got[('braid', '-t 1')][0] == 1100.0)
values = [e.text for e in by_class(doc, 'text', 'value')]
check('each bar has its value as text', sorted(values) == ['1,000', '1,100', '2,000'], values)
ratios = [e.text for e in by_class(doc, 'text', 'ratio')]
check('the ratio is shown only where both series were measured', ratios == ['braid/memcached 1.10x'], ratios)
check('the title survives escaping', 'bench <1> & "2"' in texts(doc))
check('the legend names every series',
      [e.text for e in by_class(doc, 'text', 'legend')] == ['memcached', 'braid'])
check('the panel has a title with its unit', 'throughput (ops/s)' in texts(doc))
check('gridline labels from 0', [e.text for e in by_class(doc, 'text', 'tick')][:2] == ['0', '500'],
      [e.text for e in by_class(doc, 'text', 'tick')])
empty = parse(svgchart.Chart('t', 's', ['a']).render(), 'an empty chart')
check('a chart without panels is well-formed and says so', 'no figures' in texts(empty))
check('nice steps', [svgchart.nice_step(v) for v in (1000, 7, 0.3, 12345)] == [200, 2, 0.1, 2500],
      [svgchart.nice_step(v) for v in (1000, 7, 0.3, 12345)])

# ---- braid-bench's chart from a result set like its JSON "raw"
info = {'date': '2026-11-30 13:00:00 UTC', 'cpu': 'Test CPU', 'cores': 2, 'kernel': '6.1',
        'braid_commit': 'abc123', 'memcached': 'memcached 1.6.18'}
raw = {
    'throughput_t1': {'memcached': 50000.0, 'braid': 55000.0},
    'throughput_t2': {'memcached': 80000.0, 'braid': 72000.0},
    'latency_t1': {k: {'p50_us': 100.0 * f, 'p90_us': 150.0 * f, 'p99_us': 300.0 * f, 'p999_us': 900.0 * f}
                   for k, f in (('memcached', 1.0), ('braid', 1.2))},
    'rss': {'memcached': {'bytes_per_item': 180.0}, 'braid': {'bytes_per_item': 170.0}},
    'idle_t1': {k: {'relative': r, 'storm': {'accepted_s': s}} for k, r, s in
                (('memcached', 0.97, 0.25), ('braid', 0.95, 0.20))},
}
text = bench.svg_report(info, raw, [1, 2])
doc = parse(text, "braid-bench's chart")
got = bars(doc, 'throughput,')
check("braid-bench: throughput bars per thread count",
      got.get(('memcached', '-t 2'), (None,))[0] == 80000.0 and got.get(('braid', '-t 1'), (None,))[0] == 55000.0,
      sorted(got))
check("braid-bench: throughput ratios", {'braid/memcached 1.10x', 'braid/memcached 0.90x'} <=
      {e.text for e in by_class(doc, 'text', 'ratio')})
got = bars(doc, 'latency -t 1')
check("braid-bench: latency percentiles p50, p90, p99, p99.9",
      all(('braid', p) in got for p in ('p50', 'p90', 'p99', 'p99.9')) and got[('braid', 'p99.9')][0] == 1080.0,
      sorted(got))
got = bars(doc, 'RSS')
check("braid-bench: RSS per item", got.get(('braid', 'bytes per item'), (None,))[0] == 170.0, sorted(got))
check("braid-bench: connect storm and throughput with idle connections",
      bars(doc, 'connect storm').get(('memcached', '-t 1'), (None,))[0] == 0.25 and
      bars(doc, 'throughput with the idle').get(('braid', '-t 1'), (None,))[0] == 0.95, sorted(bars(doc)))
check("braid-bench: no panel for a scenario not run (syscalls)",
      [g.get('data-title') for g in by_class(doc, 'g', 'panel') if 'syscalls' in g.get('data-title')] == [])
sub = ' '.join(e.text for e in by_class(doc, 'text', 'subtitle'))
check("braid-bench: the subtitle names the date and the cores",
      '2026-11-30 13:00:00 UTC' in sub and '2 cores' in sub, sub)
old = {'latency_t1': {k: {'p50_us': 1.0, 'p99_us': 2.0, 'p999_us': 3.0} for k in ('memcached', 'braid')}}
got = bars(parse(bench.svg_report(info, old, [1]), 'a chart without p90'))
check("braid-bench: a percentile not measured has no bar",
      ('braid', 'p99') in got and ('braid', 'p90') not in got and
      not bars(parse(bench.svg_report(info, old, [1]), 'again'), 'throughput'),
      sorted(got))
help_text = subprocess.run([sys.executable, os.path.join(root, 'tools', 'braid-bench'), '--help'],
                           capture_output=True, text=True).stdout
check("braid-bench --help offers --svg FILE", '--svg FILE' in help_text)

print('1..%d' % len(results))
for i, (name, ok, detail) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    if not ok and detail:
        for line in str(detail).splitlines():
            print('# ' + line)
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
