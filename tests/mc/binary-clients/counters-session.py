#!/usr/bin/python3
"""Raw binary requests against 127.0.0.1:PORT, then the counters they
moved, read with a binary STAT: test-binary-integration.c runs it against
memcached and braid-memcached and wants the same lines from both."""
import socket
import struct
import sys

COUNTERS = ["cmd_get", "cmd_set", "cmd_flush", "cmd_touch", "get_hits", "get_misses", "get_expired",
            "get_flushed", "delete_misses", "delete_hits", "incr_misses", "incr_hits", "decr_misses",
            "decr_hits", "cas_misses", "cas_hits", "cas_badval", "touch_hits", "touch_misses",
            "curr_items", "total_items"]

sock = socket.create_connection(("127.0.0.1", int(sys.argv[1])))


def request(opcode, key=b"", extras=b"", value=b"", cas=0):
    sock.sendall(struct.pack(">BBHBBHIIQ", 0x80, opcode, len(key), len(extras), 0, 0,
                             len(key) + len(extras) + len(value), 0, cas) + extras + key + value)


def read_exactly(n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def response():
    header = read_exactly(24)
    _, opcode, key_len, extras_len, _, status, body_len, _, cas = struct.unpack(">BBHBBHIIQ", header)
    body = read_exactly(body_len)
    return opcode, status, body[extras_len:extras_len + key_len], body[extras_len + key_len:]


def op(opcode, key=b"", extras=b"", value=b"", cas=0):
    request(opcode, key, extras, value, cas)
    _, status, _, _ = response()
    return status


def store(opcode, key, value, cas=0):
    return op(opcode, key, struct.pack(">II", 0, 0), value, cas)


def arith(opcode, key, delta, exptime=0xffffffff):
    return op(opcode, key, struct.pack(">QQI", delta, 0, exptime))


GET, SET, ADD, REPLACE, DELETE, INCR, DECR, FLUSH = 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08
APPEND, STAT, TOUCH, GAT, GATK, GETK = 0x0e, 0x10, 0x1c, 0x1d, 0x23, 0x0c

statuses = [
    store(SET, b"a", b"1"), op(GET, b"a"), op(GET, b"nope"), op(GETK, b"a"),
    store(ADD, b"a", b"2"), store(REPLACE, b"b", b"2"), op(APPEND, b"a", value=b"0"),
    store(SET, b"a", b"3", cas=999), store(SET, b"missing", b"3", cas=5),
    op(DELETE, b"a"), op(DELETE, b"a"), store(SET, b"n", b"5"),
    arith(INCR, b"n", 2), arith(DECR, b"n", 1), arith(INCR, b"x", 1), arith(DECR, b"x", 1),
    op(TOUCH, b"n", struct.pack(">I", 100)), op(TOUCH, b"nope", struct.pack(">I", 100)),
    op(GAT, b"n", struct.pack(">I", 100)), op(GATK, b"nope", struct.pack(">I", 100)),
    op(FLUSH), op(GET, b"n"),
]
print("statuses: %r" % statuses)
request(STAT)
stats = {}
while True:
    _, status, key, value = response()
    if not key:
        break
    stats[key.decode()] = value.decode()
for name in COUNTERS:
    print("%s %s" % (name, stats.get(name)))
