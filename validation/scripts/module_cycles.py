#!/usr/bin/env python3
"""Module dependency cycles of ffpe-validation (validation/src).

Every `crate::a::b...` and `super::...` path in a source file (comments, doc comments and test
modules excluded: a test may use anything) is resolved to the deepest module file that exists;
the script prints the strongly connected components with more than one member, first between
top-level modules (`analysis`, `moons`, `report`, ...), then between files. Exit status 1 when
there is a cycle. Run from the repository root: `python3 validation/scripts/module_cycles.py`.
"""
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3].split(os.sep)
    if rel[-1] in ("mod", "lib"):
        rel = rel[:-1]
    if rel and rel[0] == "bin":
        return None
    return tuple(rel)


def files():
    out = {}
    for d, _, fs in os.walk(ROOT):
        for f in fs:
            if f.endswith(".rs"):
                p = os.path.join(d, f)
                m = module_of(p)
                if m is not None and not is_test_file(p):
                    out[m] = p
    return out


def strip_comments(src):
    src = "\n".join(re.sub(r"//.*", "", line) for line in src.splitlines())
    # inline test modules (at the end of a file by convention)
    i = src.find("#[cfg(test)]\nmod tests {")
    return src if i < 0 else src[:i]


def is_test_file(path):
    name = os.path.basename(path)
    return name == "tests.rs" or name.endswith("_tests.rs")


def resolve(segs, mods):
    for k in range(len(segs), 0, -1):
        if tuple(segs[:k]) in mods:
            return tuple(segs[:k])
    return None


def edges(mods):
    g = {m: set() for m in mods}
    for m, p in mods.items():
        src = strip_comments(open(p).read())
        # expand `use crate::a::{b, c::d}` one level
        for mt in re.finditer(r"\b(crate|super)((?:::\w+)+)(?:::\{([^}]*)\})?", src):
            base = mt.group(1)
            segs = [s for s in mt.group(2).split("::") if s]
            if base == "crate":
                start = []
            else:
                start = list(m[:-1]) if os.path.basename(p) not in ("mod.rs",) else list(m[:-1])
            heads = [start + segs]
            if mt.group(3):
                for item in mt.group(3).split(","):
                    item = item.strip().split(" as ")[0]
                    if item and item != "self":
                        heads.append(start + segs + [s for s in item.split("::") if s])
            for h in heads:
                t = resolve(h, mods)
                if t is not None and t != m and t != ():
                    g[m].add(t)
    return g


def sccs(g):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            out.append(comp)

    sys.setrecursionlimit(10000)
    for v in g:
        if v not in index:
            visit(v)
    return [c for c in out if len(c) > 1]


def main():
    mods = files()
    g = edges(mods)
    top = {}
    for a, bs in g.items():
        if not a:
            continue
        top.setdefault(a[0], set())
        for b in bs:
            if b and b[0] != a[0]:
                top[a[0]].add(b[0])
    bad = False
    for name, graph in (("top-level modules", top), ("files", g)):
        cs = sccs(graph)
        if cs:
            bad = True
            for c in cs:
                print(f"cycle among {name}: " + ", ".join("::".join(x) if isinstance(x, tuple) else x for x in sorted(c)))
        else:
            print(f"no cycle among {name} ({len(graph)} nodes)")
    if "-v" in sys.argv:
        for a in sorted(top):
            print(f"{a} -> {', '.join(sorted(top[a]))}")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
