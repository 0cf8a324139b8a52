#!/usr/bin/env python3
"""A unit test of tools/braid-mutate's mutant generator (suite 'lint').

On fixtures/mutate/sample.c: every operator makes the mutants expected,
and none touches a comment, a string or char literal, a preprocessor line
or a declaration outside a function.  On every .c under src/ and fakes/:
each mutant is one change outside comments, literals and preprocessor
lines.  Sampling is deterministic.  The progress line counts and
estimates right on a terminal and writes nothing elsewhere, also through
main() with a stub in place of the build and test runner.  --sim runs a
stub simulation on each survivor and reports the share it catches, per
file, in total and in the JSON.  No build, no test run.

Usage: test-braid-mutate.py ROOT   (prints TAP)
"""
import importlib.machinery
import importlib.util
import bisect
import io
import json
import os
import shutil
import sys
import tempfile

root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..', '..')
loader = importlib.machinery.SourceFileLoader('braid_mutate', os.path.join(root, 'tools', 'braid-mutate'))
spec = importlib.util.spec_from_loader('braid_mutate', loader)
bm = importlib.util.module_from_spec(spec)
loader.exec_module(bm)

results = []


def check(name, cond, detail=''):
    results.append((name, cond, detail))


with open(os.path.join(root, 'fixtures', 'mutate', 'sample.c')) as f:
    sample = f.read()
muts = bm.generate(sample)
got = {(m.line, m.op, m.desc) for m in muts}

expected = [
    (26, 'delete', 'delete counter++;'),
    (26, 'arith', '++ -> --'),
    (33, 'negate', 'if (v < 16 && v != 17) -> if (!(v < 16 && v != 17))'),
    (33, 'cmp', '< -> <='),
    (33, 'cmp', '< -> >='),
    (33, 'cmp', '!= -> =='),
    (33, 'const', '16 -> 15'),
    (33, 'const', '16 -> 17'),
    (33, 'logic', '&& -> ||'),
    (34, 'return', 'return TRUE -> return FALSE'),
    (35, 'return', 'return FALSE -> return TRUE'),
    (43, 'const', '21 -> 22'),
    (45, 'delete', 'delete bump ();'),
    (46, 'delete', 'delete total += v;'),
    (46, 'arith', '+= -> -='),
    (47, 'return', 'return total - (s[0] == c) + table[0] -> return 0'),
    (47, 'arith', '- -> +'),
    (47, 'const', '0 -> 1'),
    (53, 'return', 'return a > 0 || b >= 22 -> return !(a > 0 || b >= 22)'),
    (53, 'logic', '|| -> &&'),
    (53, 'cmp', '>= -> <'),
]
for e in expected:
    check('fixture makes %s:%d %s' % (e[1], e[0], e[2]), e in got, 'mutants: %s' % sorted(got))
for op in bm.OPERATORS:
    check('fixture exercises operator %s' % op, any(m.op == op for m in muts))

# Lines nothing may touch: the comment, the preprocessor lines, file-scope
# declarations, the line comment, the string and the char, the
# declarators of locals.
forbidden = set(range(1, 22)) | {32, 41, 42}
bad = [m for m in muts if m.line in forbidden]
check('fixture: no mutant in comments, literals, preprocessor lines or declarations', not bad,
      '; '.join('%d: %s' % (m.line, m.desc) for m in bad))
bad = [m for m in muts if m.op == 'delete' and m.line in (41, 42, 43)]
check('fixture: declarations are never deleted', not bad)
check('fixture: the string and char survive every mutant',
      all('"if (v >= 18) return 19 + 20; /* no */"' in m.apply(sample) and "'<'" in m.apply(sample)
          for m in muts))


def one_site(src, spans, m):
    """The mutant changes src, in one place, outside comments, literals and
    preprocessor lines (a deleted statement or a replaced return value may
    take whole literals and comments with it)."""
    if m.apply(src) == src:
        return 'changes nothing'
    if m.op not in ('negate', 'return') and len(m.edits) != 1:
        return 'more than one edit'
    whole = m.op == 'delete' or (m.op == 'return' and len(m.edits) == 1)
    for a, b, _ in m.edits:
        k = bisect.bisect_right(spans, (a, float('inf'))) - 1
        for s, e in spans[max(k, 0):k + 2 + (b - a)]:
            if s >= b:
                break
            if e <= a and not (s == a == e):
                continue
            if whole and a <= s and e <= b:
                continue
            if a < e and (b > s or s < a):
                return 'edits [%d, %d) inside [%d, %d) %r' % (a, b, s, e, src[s:e][:40])
    return None


n_files = n_mutants = 0
problems = []
for top in ('src', 'fakes'):
    for dirpath, _, names in os.walk(os.path.join(root, top)):
        for name in sorted(names):
            if not name.endswith('.c'):
                continue
            path = os.path.join(dirpath, name)
            with open(path) as f:
                src = f.read()
            n_files += 1
            spans = bm.untouchable(src)
            for m in bm.generate(src):
                n_mutants += 1
                why = one_site(src, spans, m)
                if why:
                    problems.append('%s:%d %s: %s' % (os.path.relpath(path, root), m.line, m.desc, why))
check('every mutant of %d files (%d mutants) is one site outside comments, literals and '
      'preprocessor lines' % (n_files, n_mutants), n_files > 0 and not problems,
      '\n'.join(problems[:10]))

a = bm.select(muts, 5, '7', None, 'x.c')
b = bm.select(muts, 5, '7', None, 'x.c')
c = bm.select(muts, 5, '8', None, 'x.c')
check('--sample is deterministic for a seed', [m.key() for m in a] == [m.key() for m in b] and len(a) == 5)
check('--sample depends on the seed', [m.key() for m in a] != [m.key() for m in c])
check('--max-per-file keeps at most M', len(bm.select(muts, None, '1', None, 'x.c')) == len(muts) and
      len(bm.select(muts, None, '1', 4, 'x.c')) == 4)
check('--operators restricts the kinds', {m.op for m in bm.generate(sample, ['cmp'])} == {'cmp'})



class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


clock = FakeClock()
tty = io.StringIO()
p = bm.Progress(10, tty, True, clock=clock)
p.skip(2)                     # a file not compiled: done, not part of the pace
for status in ('killed', 'survived', 'timeout', 'stillborn'):
    clock.now += 7.5
    p.record(status)
line = p.line('src/x.c:12')
check('progress counts done of total, killed (timeouts included) and survived',
      line.startswith('[6/10] killed 2  survived 1  '), line)
# 30 s for the 4 mutants run, 4 left: 30 s more
check('progress: elapsed and an ETA from the pace of the mutants run',
      'elapsed 0m30s' in line and 'ETA 0m30s' in line and line.endswith('  src/x.c:12'), line)
check('progress: before any mutant ran the ETA is unknown',
      'ETA ?' in bm.Progress(3, io.StringIO(), True, clock=clock).line())
written = tty.getvalue()
check('progress on a terminal: one line rewritten with \\r, no newline',
      written.count('\r') == 5 and '\n' not in written, repr(written[-120:]))
p.clear()
check('progress: clear() erases the line', tty.getvalue().endswith('\r\033[K'))
piped = io.StringIO()
q = bm.Progress(10, piped, False, clock=clock)
q.skip(1)
q.record('killed')
q.show('x')
q.clear()
check('progress writes nothing when stderr is not a terminal', piped.getvalue() == '')

class StubRunner:
    """Runner's interface without a build: the unmutated run passes, then
    every third mutant survives and the others are killed."""

    def __init__(self, args, root_):
        self.args = args
        self.copy = os.path.join(args.work_dir, 'src')
        self.objects = {'fixtures/mutate/sample.c': ['sample.o']}
        self.before_log = lambda: None
        self.calls = 0
        os.makedirs(os.path.join(self.copy, 'fixtures', 'mutate'), exist_ok=True)
        with open(os.path.join(self.copy, 'fixtures', 'mutate', 'sample.c'), 'w') as f:
            f.write(sample)

    def log(self, *a):
        self.before_log()
        print(*a, file=sys.stderr, flush=True)

    def prepare(self):
        pass

    compiled = []

    def compile(self, suites, sim_only=False):
        StubRunner.compiled.append(sim_only)
        return True, ''

    def object_digest(self, rel):
        self.calls += 1
        return str(self.calls)      # never the same object: no equivalents

    def run_tests(self, suites, timeout):
        self.calls += 1
        return ('pass' if timeout is None or self.calls % 3 == 0 else 'fail'), 0.01, []

    sim_runs = []

    def run_sim(self, scenarios, seeds, timeout):
        """The unmutated simulation passes; then it fails, passes, times
        out, ... in turn."""
        StubRunner.sim_runs.append((scenarios, seeds, timeout))
        n = len(StubRunner.sim_runs)
        if timeout is None or n % 3 == 0:
            return 'pass', 0.5, None
        if n % 3 == 2:
            return 'fail', 0.5, 'an update was lost (braid-sim --scenario memcached --seed 3)'
        return 'timeout', timeout, 'timeout (all)'


class Terminal(io.StringIO):
    def isatty(self):
        return True


def run_main(stderr, extra=(), sample='4'):
    work = tempfile.mkdtemp(prefix='test-braid-mutate.')
    saved = bm.Runner, sys.stdout, sys.stderr
    out = io.StringIO()
    try:
        bm.Runner, sys.stdout, sys.stderr = StubRunner, out, stderr
        status = bm.main(['--work-dir', work, '--suites', 'stub', '--sample', sample, '--seed', '1'] +
                         list(extra) + [os.path.join(root, 'fixtures', 'mutate', 'sample.c')])
    finally:
        bm.Runner, sys.stdout, sys.stderr = saved
        shutil.rmtree(work, ignore_errors=True)
    return status, out.getvalue(), stderr.getvalue()


status, piped_out, piped_err = run_main(io.StringIO())
check('main() with a stub runner reports 3 killed and 1 survived',
      status == 0 and 'killed 3 (timeout 0)  survived 1' in piped_out, piped_out)
check('main() not on a terminal: a log line per mutant, no \\r anywhere',
      '\r' not in piped_err and '\033' not in piped_err and '[4/4] ' in piped_err, repr(piped_err))
status, tty_out, tty_err = run_main(Terminal())
check('main() on a terminal: the progress line ends at 4/4 with the counts, then is erased',
      '\r\033[K[4/4] killed 3  survived 1  ' in tty_err and tty_err.endswith('\r\033[K'), repr(tty_err[-300:]))
check('main() on a terminal: no per-mutant log lines, the same report',
      ': killed\n' not in tty_err and tty_out.split('\n')[1:] == piped_out.split('\n')[1:],
      tty_out + '\n---\n' + piped_out)

check('main() without --sim runs no simulation',
      not StubRunner.sim_runs and 'simulation' not in piped_out + tty_out, piped_out)

check('--sim: src/mc/ runs memcached, src/proxy/ proxy, the reactor, fakes and others every scenario',
      bm.sim_scenarios_for('src/mc/server/mc-store.c') == ['memcached'] and
      bm.sim_scenarios_for('src/mc/client/mc-client.c') == ['memcached'] and
      bm.sim_scenarios_for('src/proxy/proxy-flight.c') == ['proxy'] and
      bm.sim_scenarios_for('src/reactor/reactor.c') is None and
      bm.sim_scenarios_for('fakes/fake-reactor.c') is None and
      bm.sim_scenarios_for('src/daemon/daemon.c') is None)
check('--sim: the failure reported is the FAIL line, or how braid-sim died',
      bm.sim_failure_line('x\nFAIL an update was lost\n1 seeds, 1 failed\n', 1) == 'an update was lost' and
      bm.sim_failure_line('', -6) == 'killed by signal 6' and
      bm.sim_failure_line('', 2) == 'exit status 2')

# 12 mutants: 4 survive (every third test run passes); the stub simulation
# then catches the 1st (fails), misses the 2nd, catches the 3rd (timeout),
# catches the 4th (fails).
json_path = os.path.join(tempfile.mkdtemp(prefix='test-braid-mutate.'), 'r.json')
StubRunner.sim_runs = []
status, sim_out, sim_err = run_main(io.StringIO(), ['--sim', '7', '--json', json_path], sample='12')
runs = StubRunner.sim_runs
check('--sim: the unmutated simulation, then one run per survivor, all scenarios, 7 seeds, '
      'timeout 3 x the baseline + 10 s',
      len(runs) == 5 and runs[0] == (None, 7, None) and all(r == (None, 7, 11.5) for r in runs[1:]),
      repr(runs))
check('--sim: survivors, caught and share per file and in total',
      'survived 4' in sim_out and
      'simulation all: survivors 4  caught 3  share 75.0%' in sim_out and
      'simulation (7 seeds): survivors 4  caught 3  share 75.0%' in sim_out, sim_out)
check('--sim: each survivor says whether the simulation caught it, and how',
      sim_out.count('missed by the simulation') == 1 and
      sim_out.count('caught by the simulation: an update was lost (braid-sim --scenario memcached '
                    '--seed 3)') == 2 and
      sim_out.count('caught by the simulation: timeout (all)') == 1, sim_out)
with open(json_path) as f:
    report = json.load(f)
sample_entry = report['files'][0]
check('--sim: the JSON has the totals, the per-file counts and each survivor\'s verdict',
      report['sim'] == {'seeds': 7, 'survivors': 4, 'caught': 3, 'share': 75.0} and
      sample_entry['sim'] == {'survivors': 4, 'caught': 3, 'share': 75.0} and
      sorted(r['sim'] for r in sample_entry['mutants'] if r['status'] == 'survived') ==
      ['caught', 'caught', 'caught', 'missed'] and
      all('sim' not in r for r in sample_entry['mutants'] if r['status'] != 'survived'),
      json.dumps(report.get('sim')))
# --resim: the survivors of that report, again through the simulation,
# without a test run; the stub's simulation now fails for every one
StubRunner.sim_runs = []
StubRunner.compiled = []
saved_run_tests, saved_run_sim = StubRunner.run_tests, StubRunner.run_sim
tests_run = []
StubRunner.run_tests = lambda self, suites, timeout: tests_run.append(suites) or ('fail', 0.01, [])
StubRunner.run_sim = lambda self, scenarios, seeds, timeout: (
    StubRunner.sim_runs.append((scenarios, seeds, timeout)) or
    (('pass', 0.5, None) if timeout is None else ('fail', 0.5, 'caught now')))
resim_json = json_path + '.resim'
status, resim_out, _ = run_main(io.StringIO(), ['--sim', '7', '--resim', json_path, '--json', resim_json],
                                sample='12')
StubRunner.run_tests, StubRunner.run_sim = saved_run_tests, saved_run_sim
with open(resim_json) as f:
    resim_report = json.load(f)
resim_entry = resim_report['files'][0]
check('--resim: only the report\'s survivors, simulated again; no test run, braid-sim alone built',
      not tests_run and StubRunner.compiled and all(StubRunner.compiled) and
      len(StubRunner.sim_runs) == 5 and
      sorted((r['line'], r['operator'], r['change']) for r in resim_entry['mutants']) ==
      sorted((r['line'], r['operator'], r['change']) for r in sample_entry['mutants']
             if r['status'] == 'survived'), resim_out + repr(tests_run))
check('--resim: the share with the new simulation',
      resim_report['sim'] == {'seeds': 7, 'survivors': 4, 'caught': 4, 'share': 100.0} and
      'simulation (7 seeds): survivors 4  caught 4  share 100.0%' in resim_out and
      'no fast test ran (--resim)' in resim_out and ' killed ' not in resim_out, resim_out)

StubRunner.sim_runs = []
run_main(io.StringIO(), ['--sim', '3', '--sim-scenarios', 'memcached,proxy'], sample='3')
check('--sim-scenarios overrides the scenarios of every file',
      StubRunner.sim_runs and all(r[0] == ['memcached', 'proxy'] and r[1] == 3
                                  for r in StubRunner.sim_runs), repr(StubRunner.sim_runs))

# --sanitize: the work dir's build options and the test setup, without
# building anything (subprocess.run and Popen answer for meson)
class FakeArgs:
    sanitize = True
    work_dir = tempfile.mkdtemp()
    jobs = 1
    with_slow = False
    quiet = True


class Completed:
    def __init__(self, stdout):
        self.stdout = stdout
        self.returncode = 0


def fake_introspect(value):
    return lambda cmd, **kw: Completed(json.dumps([{'name': 'b_sanitize', 'value': value}]).encode())


seen_cmds = []


class FakePopen:
    def __init__(self, cmd, **kw):
        seen_cmds.append(cmd)
        self.pid = 0
        self.returncode = 0

    def communicate(self, timeout=None):
        return b'', b''


real_run, real_popen = bm.subprocess.run, bm.subprocess.Popen
try:
    runner = bm.Runner(FakeArgs, root)
    sanitize_setup = runner.setup_options()
    bm.subprocess.run = fake_introspect('address,undefined')
    runner.check_sanitizer()
    bm.subprocess.Popen = FakePopen
    runner.run_tests(['reactor'], None)
    bm.subprocess.run = fake_introspect('none')
    try:
        runner.check_sanitizer()
        mixed_refused = False
    except SystemExit as e:
        mixed_refused = 'use another --work-dir' in str(e)
    FakeArgs.sanitize = False
    plain_setup = runner.setup_options()
    runner.check_sanitizer()
finally:
    bm.subprocess.run, bm.subprocess.Popen = real_run, real_popen
    shutil.rmtree(FakeArgs.work_dir, ignore_errors=True)
setup_ok = sanitize_setup == ['-Db_sanitize=address,undefined', '-Db_lundef=false'] and plain_setup == []
cmd_ok = bool(seen_cmds) and '--setup' in seen_cmds[0] and \
    seen_cmds[0][seen_cmds[0].index('--setup') + 1] == 'asan'
check('--sanitize: ASan and UBSan build options, the asan test setup, and a work dir built the other way refused',
      setup_ok and cmd_ok and mixed_refused, repr((sanitize_setup, plain_setup, seen_cmds, mixed_refused)))

print('1..%d' % len(results))
for i, (name, ok, detail) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    if not ok and detail:
        for line in detail.splitlines():
            print('# ' + line)
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
