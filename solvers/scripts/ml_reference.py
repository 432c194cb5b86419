#!/usr/bin/env python3
"""Generate the Mittag-Leffler reference table solvers/tests/data/ml_reference.json.

Every value E_{a,b}(z) is computed by two independent routes with mpmath and the two must
agree to at least 30 significant digits (the script aborts otherwise):

  1. "series": the power series sum_k z^k / Gamma(a k + b), summed in arbitrary precision
     with enough guard digits to absorb the cancellation (working precision 45 digits plus
     log10 of the largest term); for t = |z|^(1/a) >= 150 (a < 1), where the series needs
     10^4..10^5 terms at 100s of digits, route 1 is instead the optimally truncated
     asymptotic series -sum_k z^-k / Gamma(b - a k) plus the pole term, whose truncation
     error is about exp(-t) < 1e-65 (the row says which: "route1").
  2. "laplace": inversion of the Laplace transform s^(a-b) / (s^a - z) by collapsing the
     Bromwich contour onto the branch cut (tanh-sinh quadrature of the real integral
     (1/pi) int_0^inf e^-r r^(a-b) [r^a sin(pi b) + z sin(pi (a-b))] / (r^2a - 2 z r^a cos(pi a) + z^2) dr
     in the variable s = r^a, which removes the r^(a-1) endpoint singularity,
     for b = 2 the once-integrated form with (1 - e^-r)/r), plus the residue
     (1/a) z^((1-b)/a) exp(z^(1/a)) when |arg z| < a pi; for a = 1 the closed forms
     exp(z) (b = 1) and (exp(z) - 1)/z (b = 2).

The arguments z are the double-precision numbers stored in the file (z = -t^a, t^a and
t^a e^(i theta), rounded to double first); the reference values are for those exact doubles.

Usage: solvers/scripts/.venv/bin/python solvers/scripts/ml_reference.py [--quick] [--reuse]
(--reuse keeps the rows of an existing table that passed and recomputes only the others.)
(venv: python3 -m venv solvers/scripts/.venv && solvers/scripts/.venv/bin/pip install mpmath)
"""
import json
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import mpmath as mp

DIGITS = 40  # digits stored and required agreement is 30
LAPLACE_GUARD = 20
QUAD_DEGREE = 8


def asymptotic(a, b, z):
    """Optimally truncated asymptotic series plus the pole term, for t = |z|^(1/a) >= 150:
    the truncation error is about exp(-t) < 1e-65 relative."""
    with mp.workdps(DIGITS + 20):
        am, bm = mp.mpf(a), mp.mpf(b)
        zz = mp.mpc(z)
        s = mp.mpc(0)
        zi = 1 / zz
        zk = zi
        t = abs(zz) ** (1 / am)
        tol = mp.mpf(10) ** (-(DIGITS + 20))
        small = 0
        # 1/Gamma(b - a k) has zeros every 1/a terms, so |term| is not monotone: sum up to
        # the optimal truncation a k ~ t, stopping early only after 2/a + 5 consecutive
        # negligible terms.
        for k in range(1, int(t / a) + 1):
            term = zk * mp.rgamma(bm - am * k)
            s -= term
            small = small + 1 if abs(term) < tol * abs(s) else 0
            if small > 2 / a + 5:
                break
            zk *= zi
        if abs(mp.arg(zz)) < mp.pi * am:
            w = zz ** (1 / am)
            s += w ** (1 - bm) * mp.exp(w) / am
        return s


def series(a, b, z):
    am, bm = mp.mpf(a), mp.mpf(b)
    zz = mp.mpc(z)
    t = float(abs(zz)) ** (1.0 / a) if abs(zz) > 0 else 0.0
    # guard digits: log10 of the largest term (~e^t) plus log10 of 1/|E| (E can be as
    # small as ~e^-t for a near 1 on the negative axis)
    extra = int(2 * t / 2.302585) + 10
    with mp.workdps(DIGITS + 5 + extra):
        zz = mp.mpc(z)
        s = mp.mpc(0)
        zk = mp.mpc(1)
        k = 0
        tol = mp.mpf(10) ** (-(DIGITS + 8 + extra))
        while True:
            term = zk * mp.rgamma(am * k + bm)
            s += term
            if a * k > t + 10 and k > 20 and abs(term) < tol:
                break
            zk *= zz
            k += 1
        return mp.mpc(s)


def laplace(a, b, z):
    with mp.workdps(DIGITS + LAPLACE_GUARD):
        am, bm = mp.mpf(a), mp.mpf(b)
        zz = mp.mpc(z)
        if a == 1.0:
            if b == 1.0:
                return mp.exp(zz)
            if b == 2.0:
                return mp.expm1(zz) / zz if zz != 0 else mp.mpf(1)
            raise ValueError("a = 1 only with b in {1, 2}")
        pi = mp.pi
        sa, ca = mp.sin(pi * am), mp.cos(pi * am)
        sb, sab = mp.sin(pi * bm), mp.sin(pi * (am - bm))
        integrated = b >= 1 + a
        if integrated and b != 2.0:
            raise ValueError("only b < 1 + a or b = 2")

        # substitute s = r^a (smooth at s = 0 for b in {1, a} and the integrated b = 2 form):
        # r^(a-b) dr = s^((1-b)/a) ds / a.
        inv_a = 1 / am

        def f(sv):
            if sv == 0:
                return mp.mpf(0) if not (integrated or b == 1.0) else f(mp.mpf(10) ** (-DIGITS - 30))
            r = sv**inv_a
            d = sv * sv - 2 * zz * sv * ca + zz * zz
            if integrated:
                q = -mp.expm1(-r) / r
                return q * (-zz * sa) / d / (pi * am)
            return mp.exp(-r) * sv ** ((1 - bm) * inv_a) * (sv * sb + zz * sab) / d / (pi * am)

        t = abs(zz) ** (1 / am)
        pts = [mp.mpf(0), mp.mpf(1)]
        if t < 200 or integrated:
            # the integrand peaks at r = t with relative width ~ pi (1 - a) (no e^-r damping
            # in the integrated form): break the interval around it
            wdt = min(mp.mpf(1) / 2, 3 * (1 - am))
            for fac in (mp.mpf(1) / 2, 1 - wdt, 1 - wdt / 4, 1, 1 + wdt / 4, 1 + wdt, 2):
                pts.append((t * fac) ** am)
        pts += [mp.mpf(40) ** am]
        pts = sorted(set(pts)) + [mp.inf]
        val = mp.quad(f, pts, maxdegree=QUAD_DEGREE)
        th = mp.arg(zz)
        if abs(th) < pi * am:
            s = zz ** (1 / am)
            if integrated:
                val += mp.expm1(s) / (am * s)
            else:
                val += s ** (1 - bm) * mp.exp(s) / am
        return val


def agree_digits(x, y):
    if x == y:
        return 99
    d = abs(x - y) / max(abs(x), abs(y))
    return float(-mp.log10(d)) if d > 0 else 99


def one(case):
    kind, a, b, z = case
    t = abs(z) ** (1.0 / a)
    route1 = "asymptotic" if (t >= 150 and a < 1.0) else "series"
    s = asymptotic(a, b, z) if route1 == "asymptotic" else series(a, b, z)
    l = laplace(a, b, z)
    dig = agree_digits(s, l)
    return {
        "kind": kind,
        "a": a,
        "b": b,
        "z_re": z.real,
        "z_im": z.imag,
        "re": mp.nstr(s.real, DIGITS, min_fixed=1, max_fixed=0),
        "im": mp.nstr(s.imag, DIGITS, min_fixed=1, max_fixed=0),
        "agree_digits": round(min(dig, 99), 1),
        "route1": route1,
    }


def cases(quick):
    out = []
    # dense near a = 1 (issue 13: the 0.95 < a < 1 range was off by up to 6.8e-14)
    a_neg = [0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.96, 0.97, 0.98, 0.99, 0.995, 0.999, 1.0]
    ts = [10 ** (-3 + 6 * i / 60) for i in range(61)]
    if quick:
        a_neg, ts = [0.5], ts[::10]
    for a in a_neg:
        for b in sorted({1.0, a, 2.0}):
            for t in ts:
                out.append(("negative", a, b, complex(-(t**a), 0.0)))
    a_pos = [0.1, 0.3, 0.5, 0.7, 0.9, 0.95, 0.99, 0.999, 1.0]
    if quick:
        a_pos = [0.5]
    for a in a_pos:
        for b in sorted({1.0, a, 2.0}):
            tmax = 690.0
            n = 21
            for i in range(n):
                t = 10 ** (-3 + (math.log10(tmax) + 3) * i / (n - 1))
                out.append(("positive", a, b, complex(t**a, 0.0)))
    a_c = [0.3, 0.5, 0.7, 0.9, 0.95, 0.97, 0.99, 0.995, 0.999]
    if quick:
        a_c = [0.5]
    for a in a_c:
        for b in sorted({1.0, a, 2.0}):
            for th in (0.15, 0.4, 0.6, 0.85):
                if abs(th - a) < 0.04:
                    continue
                for i in range(9):
                    t = 10 ** (-2 + 4 * i / 8)
                    r = t**a
                    out.append(
                        ("complex", a, b, complex(r * math.cos(th * math.pi), r * math.sin(th * math.pi)))
                    )
    return out


def key(kind, a, b, zr, zi):
    return (kind, repr(a), repr(b), repr(zr), repr(zi))


def main():
    quick = "--quick" in sys.argv
    cs = cases(quick)
    path = "solvers/tests/data/ml_reference%s.json" % ("_quick" if quick else "")
    # --reuse: keep rows of an existing table that passed (>= 30 digits); recompute the rest
    done = {}
    if "--reuse" in sys.argv:
        try:
            for r in json.load(open(path))["rows"]:
                if r["agree_digits"] >= 30:
                    done[key(r["kind"], r["a"], r["b"], r["z_re"], r["z_im"])] = r
        except FileNotFoundError:
            pass
    todo = [c for c in cs if key(c[0], c[1], c[2], c[3].real, c[3].imag) not in done]
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=2) as ex:
        new = {key(c[0], c[1], c[2], c[3].real, c[3].imag): r for c, r in zip(todo, ex.map(one, todo, chunksize=2))}
    done.update(new)
    rows = [done[key(c[0], c[1], c[2], c[3].real, c[3].imag)] for c in cs]
    for r in rows:
        # exact decimal strings of the double arguments (JSON readers may round numbers)
        r["z_re_s"] = repr(float(r["z_re"]))
        r["z_im_s"] = repr(float(r["z_im"]))
    print(f"{len(todo)} rows computed, {len(cs) - len(todo)} reused", file=sys.stderr)
    bad = [r for r in rows if r["agree_digits"] < 30]
    for r in bad:
        print("DISAGREE", r, file=sys.stderr)
    doc = {
        "generated_by": "solvers/scripts/ml_reference.py (mpmath %s); GENERATED FILE, do not edit" % mp.__version__,
        "method": "two independent routes (arbitrary-precision power series; Laplace inversion via the "
        "branch-cut integral with tanh-sinh quadrature plus pole residue), agreement >= 30 digits required",
        "digits": DIGITS,
        "min_agree_digits": min(r["agree_digits"] for r in rows),
        "seconds": round(time.time() - t0, 1),
        "count": len(rows),
        "rows": rows,
    }
    with open(path, "w") as f:
        json.dump(doc, f, indent=0)
    print(f"{len(rows)} rows, min agreement {doc['min_agree_digits']} digits, {doc['seconds']} s -> {path}")
    if bad:
        sys.exit(1)


if __name__ == "__main__":
    main()
