#!/usr/bin/python3
"""One pylibmc session over the binary protocol against 127.0.0.1:PORT.
Prints one line per operation: test-binary-integration.c runs it against
memcached and braid-memcached and wants the same lines from both."""
import sys

import pylibmc

port = int(sys.argv[1])
mc = pylibmc.Client(["127.0.0.1:%d" % port], binary=True, behaviors={"cas": True})


def note(label, fn):
    try:
        result = fn()
    except Exception as e:  # the exception's type is part of the result
        result = "raised " + type(e).__name__
    print("%s: %r" % (label, result))
    return result


note("flush_all", lambda: mc.flush_all())
note("set", lambda: mc.set("a", "alpha"))
note("get", lambda: mc.get("a"))
note("get missing", lambda: mc.get("missing"))
note("set_multi", lambda: sorted(mc.set_multi({"k1": "v1", "k2": b"v2", "k3": 3})))
note("get_multi", lambda: sorted(mc.get_multi(["k1", "k2", "k3", "nope"]).items()))
note("add existing", lambda: mc.add("a", "x"))
note("add new", lambda: mc.add("b", "beta"))
note("replace missing", lambda: mc.replace("zz", "x"))
note("replace", lambda: mc.replace("b", "BETA"))
note("append", lambda: mc.append("b", ">>"))
note("prepend", lambda: mc.prepend("b", "<<"))
note("append missing", lambda: mc.append("zz", ">>"))
note("get appended", lambda: mc.get("b"))
value, cas = note("gets", lambda: mc.gets("a"))
print("gets cas is a positive int: %r" % (isinstance(cas, int) and cas > 0))
note("cas right", lambda: mc.cas("a", "alpha2", cas))
note("cas stale", lambda: mc.cas("a", "alpha3", cas))
note("cas missing", lambda: mc.cas("missing", "x", 1))
note("get after cas", lambda: mc.get("a"))
note("set counter", lambda: mc.set("n", "10"))
note("incr", lambda: mc.incr("n", 5))
note("decr", lambda: mc.decr("n", 3))
note("decr below zero", lambda: mc.decr("n", 100))
note("incr missing", lambda: mc.incr("nope", 1))
note("incr non-numeric", lambda: mc.incr("a", 1))
note("delete", lambda: mc.delete("a"))
note("delete missing", lambda: mc.delete("a"))
note("delete_multi", lambda: mc.delete_multi(["k1", "k2"]))
note("touch", lambda: mc.touch("b", 100))
note("touch missing", lambda: mc.touch("gone", 100))
big = "x" * (600 * 1024)
note("set large", lambda: mc.set("big", big))
note("get large", lambda: mc.get("big") == big)
note("get_multi large", lambda: sorted((k, len(v)) for k, v in mc.get_multi(["big", "b", "none"]).items()))
note("set too large", lambda: mc.set("huge", "y" * (2 * 1024 * 1024)))
note("flush_all", lambda: mc.flush_all())
note("get after flush", lambda: mc.get("b"))
