#!/usr/bin/env python3
"""Checks that the source tree's dependencies run one way.

A *module* is a concept: foo.c with foo.h and foo-private.h.  Module A
depends on module B when any file of A includes a header of B with quotes.
The check fails when two or more modules depend on each other, directly or
round a longer loop (a strongly connected component of more than one
module): "two files that call each other are one concept split badly, or a
dependency that should be injected" (docs/architecture.md).

It also fails when a header includes a header that includes it back.

Usage: check-includes.py ROOT [DIR...]   (default DIRs: src fakes tools tests)
"""
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def module_of(name):
    stem = os.path.basename(name)
    stem = re.sub(r'\.(c|h|h\.in)$', '', stem)
    return re.sub(r'-private$', '', stem)


def scan(root, dirs):
    files = {}
    for d in dirs:
        for base, _, names in os.walk(os.path.join(root, d)):
            for n in names:
                if n.endswith(('.c', '.h')):
                    path = os.path.join(base, n)
                    with open(path, encoding='utf-8', errors='replace') as f:
                        files[os.path.relpath(path, root)] = INCLUDE.findall(f.read())
    return files


def strongly_connected(graph):
    """Tarjan's algorithm, iterative enough for a source tree."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(sorted(comp))

    sys.setrecursionlimit(10000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else '.'
    dirs = sys.argv[2:] or ['src', 'fakes', 'tools', 'tests']
    files = scan(root, dirs)
    known = {os.path.basename(p) for p in files}
    graph = {}
    edges = {}
    for path, includes in files.items():
        a = module_of(path)
        graph.setdefault(a, set())
        for inc in includes:
            if os.path.basename(inc) not in known:
                continue
            b = module_of(inc)
            if a != b:
                graph[a].add(b)
                edges.setdefault((a, b), []).append(path)
    problems = 0
    for comp in strongly_connected(graph):
        if len(comp) < 2:
            continue
        problems += 1
        print('modules depend on each other: ' + ', '.join(comp))
        for a in comp:
            for b in comp:
                if (a, b) in edges:
                    print('  %s -> %s (in %s)' % (a, b, ', '.join(sorted(edges[(a, b)]))))
    print('%d modules, %d dependency cycles' % (len(graph), problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
