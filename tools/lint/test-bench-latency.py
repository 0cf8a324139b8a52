#!/usr/bin/env python3
"""A test of tools/bench-latency, braid-bench's latency load generator.

Runs it against scripted servers on loopback (threads of this test, not a
memcached): one that answers every request at once, one that refuses every
set, and one that holds its answers back, and checks what it reports: the
number of requests at the paced rate, the refusals counted as errors, a
latency that includes the server's delay, percentiles in order, and a
closed loop that sends a request only after the previous answer.

Usage: test-bench-latency.py BENCH_LATENCY   (prints TAP)
"""
import json
import socket
import subprocess
import sys
import threading
import time

tool = sys.argv[1]
results = []


def check(name, cond, detail=''):
    results.append((name, bool(cond), detail))


class ScriptedServer:
    """Answers `get` with a hit of a 100-byte value (or END for keys
    ending in an odd digit), sets with STORED or, if refuse_sets, with
    NOT_STORED; each answer @delay seconds after its request.  Counts the
    requests it saw and the most it had unanswered on one connection."""

    def __init__(self, refuse_sets=False, delay=0.0):
        self.refuse_sets, self.delay = refuse_sets, delay
        self.listener = socket.socket()
        self.listener.bind(('127.0.0.1', 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.gets = self.sets = self.noreply = 0
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            conn, _ = self.listener.accept()
            threading.Thread(target=self.serve, args=(conn,), daemon=True).start()

    def serve(self, conn):
        f = conn.makefile('rb')
        while True:
            line = f.readline()
            if not line:
                return
            words = line.split()
            if words[0] == b'set':
                f.read(int(words[4]) + 2)
                with self.lock:
                    if words[-1] == b'noreply':
                        self.noreply += 1
                        continue
                    self.sets += 1
                reply = b'NOT_STORED\r\n' if self.refuse_sets else b'STORED\r\n'
            elif words[0] == b'get':
                with self.lock:
                    self.gets += 1
                if int(words[1][-1:]) % 2:
                    reply = b'END\r\n'
                else:
                    reply = b'VALUE %s 0 100\r\n%s\r\nEND\r\n' % (words[1], b'v' * 100)
            elif words[0] == b'version':
                reply = b'VERSION scripted\r\n'
            else:
                reply = b'ERROR\r\n'
            if self.delay:
                time.sleep(self.delay)
            conn.sendall(reply)


def run(server, *args):
    out = subprocess.run([tool, '--port', str(server.port), '--keys', '100', '--connections', '4',
                          '--threads', '2'] + list(args), capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        check('bench-latency %s exits 0' % ' '.join(args), False, out.stderr)
        return None
    return json.loads(out.stdout)


# Paced against a prompt server: the schedule's count, every key preloaded.
s = ScriptedServer()
r = run(s, '--rate', '400', '--seconds', '1')
if r:
    check('paced: 400/s for 1 s is 400 requests', r['requests'] == 400, r)
    check('paced: all answered and stored', r['errors'] == 0, r)
    check('paced: the server saw them all', s.gets + s.sets == 400, (s.gets, s.sets))
    check('paced: about 10 % sets', 15 <= s.sets <= 70, s.sets)
    check('paced: 100 keys preloaded with noreply', s.noreply == 100, s.noreply)
    check('paced: percentiles in order', 0 < r['p50_us'] <= r['p90_us'] <= r['p99_us'] <= r['p999_us'], r)

# Refused sets are errors, and only they.
s = ScriptedServer(refuse_sets=True)
r = run(s, '--rate', '400', '--seconds', '1')
if r:
    check('refused sets counted as errors', r['errors'] == s.sets and s.sets > 0, (r, s.sets))

# Latency includes the server's delay: 20 ms per answer, one connection
# thread per connection in the server, so each answer takes at least 20 ms.
s = ScriptedServer(delay=0.02)
r = run(s, '--rate', '100', '--seconds', '1')
if r:
    check('a 20 ms server: p50 at least 20 ms', r['p50_us'] >= 20000, r)
    check('a 20 ms server: all 100 answered', r['requests'] == 100 and r['errors'] == 0, r)

# Latency runs from the scheduled time, not the time sent: 4 connections,
# 400/s, 20 ms per answer in series per connection: each connection gets
# 100/s but answers only 50/s, so the queue, and the latency, grow.
s = ScriptedServer(delay=0.02)
r = run(s, '--rate', '400', '--seconds', '1')
if r:
    check('a server slower than the schedule: p99 grows past 0.4 s', r['p99_us'] > 400000, r)

# Closed loop: one request in flight per connection, so 4 connections
# against a 20 ms server make at most 4 / 0.02 = 200 a second.
s = ScriptedServer(delay=0.02)
r = run(s, '--seconds', '1')
if r:
    check('saturated: at most 4 in flight (<= 200 requests in 1 s)', 100 <= r['requests'] <= 210, r)
    check('saturated: each waits its 20 ms', r['p50_us'] >= 20000, r)

# Bad arguments exit 2.
bad = subprocess.run([tool, '--connections', '4'], capture_output=True, text=True)
check('no --port: exit status 2', bad.returncode == 2, bad.returncode)

print('1..%d' % len(results))
for i, (name, ok, detail) in enumerate(results, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    if not ok:
        print('# %s' % (detail,))
sys.exit(0 if all(ok for _, ok, _ in results) else 1)
