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
       ... ml_reference.py --stokes [--out PATH]
(--stokes computes only the complex rows near |arg z| = a pi, see stokes_cases, and merges them
into PATH, default the main table, keeping its rows; near that line route 2 bends its path
around the pole of the integrand, see detour.)
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
        th = mp.arg(zz)
        det = detour(a, zz)
        if det is not None:
            # z near the line |arg z| = a pi: a pole of the integrand, s = z e^(-+i pi a),
            # sits on (or next to) the real s axis. Bend the path around |z| to the side
            # away from the pole region; that integral is E itself for z on both sides of
            # the line (analytic continuation in z from the outside, where the residue term
            # is absent and the pole lies on the other side of the path), so no residue.
            lo, vtx, hi = det
            pts = [p for p in pts if p == mp.inf or p < lo or p > hi]
            pts = sorted(pts[:-1] + [lo, hi])
            i = pts.index(lo)
            pts = pts[: i + 1] + [vtx] + pts[i + 1 :] + [mp.inf]
            return mp.quad(f, pts, maxdegree=QUAD_DEGREE)
        val = mp.quad(f, pts, maxdegree=QUAD_DEGREE)
        if abs(th) < pi * am:
            s = zz ** (1 / am)
            if integrated:
                val += mp.expm1(s) / (am * s)
            else:
                val += s ** (1 - bm) * mp.exp(s) / am
        return val


def detour(a, zz):
    """For ||arg z| - a pi| < 0.03 a pi: (lo, vertex, hi) of a triangular bend of the s path
    around s = |z|, below the real axis for Im z > 0 (above for Im z < 0), deep enough to
    pass the pole z e^(-i pi a) (Im z > 0) on its far side and shallow enough not to pass
    the second pole z e^(+i pi a), which comes near the real axis from below for a near 1.
    None when z is not near the line."""
    am = mp.mpf(a)
    th = mp.arg(zz)
    if zz.imag == 0 or abs(abs(th) - mp.pi * am) >= mp.mpf("0.03") * mp.pi * am:
        return None
    ath = abs(th)
    # angles below the real s axis (for Im z > 0) of the two poles
    psi1 = am * mp.pi - ath  # > 0 (below) when z is inside the sector
    psi2 = 2 * mp.pi - (ath + am * mp.pi)  # second pole, below by this angle
    depth = (max(psi1, 0) + min(psi2, mp.mpf("0.4"))) / 2
    r = abs(zz)
    lo, hi = r / 2, 3 * r / 2
    vtx = mp.mpc(r, -r * mp.tan(depth) if zz.imag > 0 else r * mp.tan(depth))
    return lo, vtx, hi


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


def stokes_cases():
    """Issue 13: complex z near the line |arg z| = a pi, where the algorithm's regions meet
    and E turns from exponential growth to algebraic decay: arg z = a pi (1 + d); the
    conjugate side (Im z < 0) for d in {-1e-3, 0, 1e-3}. Rows with |arg z| > pi
    (a = 0.99, d = 0.02) do not exist and are counted as dropped."""
    out, dropped = [], 0
    for a in (0.3, 0.5, 0.7, 0.9, 0.99):
        for b in sorted({1.0, a, 2.0}):
            for r in (0.5, 3.0, 20.0, 100.0):
                for d in (-0.02, -1e-3, 0.0, 1e-3, 0.02):
                    for sg in (1, -1) if abs(d) < 0.01 else (1,):
                        th = a * math.pi * (1 + d)
                        if th > math.pi:
                            dropped += 1
                            continue
                        out.append(("complex", a, b, complex(r * math.cos(th), sg * r * math.sin(th))))
    return out, dropped


def safe_one(case):
    """one(case), or None when a route fails (the row is then dropped and counted)."""
    try:
        return one(case)
    except Exception as e:  # noqa: BLE001 - any route failure drops the row
        print("ROUTE FAILED", case, repr(e), file=sys.stderr)
        return None


def main_stokes():
    """--stokes [--out PATH]: compute ONLY the rows near |arg z| = a pi and merge them into
    PATH (default the main table), keeping its rows; rows where the routes agree to < 30
    digits or a route fails are dropped and counted. The header keeps count and
    min_agree_digits over all rows, and the seconds per part in "seconds_parts"."""
    path = "solvers/tests/data/ml_reference.json"
    if "--out" in sys.argv:
        path = sys.argv[sys.argv.index("--out") + 1]
    try:
        doc = json.load(open(path))
    except FileNotFoundError:
        doc = {"rows": [], "seconds": 0.0}
    have = {key(r["kind"], r["a"], r["b"], r["z_re"], r["z_im"]) for r in doc["rows"]}
    cs, dropped_arg = stokes_cases()
    todo = [c for c in cs if key(c[0], c[1], c[2], c[3].real, c[3].imag) not in have]
    t0 = time.time()
    with ProcessPoolExecutor(max_workers=2) as ex:
        res = list(ex.map(safe_one, todo, chunksize=2))
    secs = round(time.time() - t0, 1)
    failed = sum(r is None for r in res)
    low = [r for r in res if r is not None and r["agree_digits"] < 30]
    for r in low:
        print("DISAGREE (dropped)", r, file=sys.stderr)
    new = [r for r in res if r is not None and r["agree_digits"] >= 30]
    for r in new:
        r["z_re_s"] = repr(float(r["z_re"]))
        r["z_im_s"] = repr(float(r["z_im"]))
        r["set"] = "stokes"
    rows = doc["rows"] + new
    parts = doc.get("seconds_parts", {"base": doc.get("seconds", 0.0)} if doc["rows"] else {})
    parts["stokes"] = round(parts.get("stokes", 0.0) + secs, 1)
    doc.update(
        {
            "generated_by": "solvers/scripts/ml_reference.py (mpmath %s); GENERATED FILE, do not edit" % mp.__version__,
            "method": "two independent routes (arbitrary-precision power series; Laplace inversion via the "
            "branch-cut integral with tanh-sinh quadrature plus pole residue), agreement >= 30 digits required",
            "digits": DIGITS,
            "min_agree_digits": min(r["agree_digits"] for r in rows),
            "seconds_parts": parts,
            "seconds": round(sum(parts.values()), 1),
            "count": len(rows),
            "stokes_dropped": {"arg_beyond_pi": dropped_arg, "route_failed": failed, "below_30_digits": len(low)},
        }
    )
    doc["rows"] = rows
    # keep "rows" last in the file
    doc = {k: v for k, v in doc.items() if k != "rows"} | {"rows": rows}
    with open(path, "w") as f:
        json.dump(doc, f, indent=0)
    print(
        f"{len(new)} stokes rows added ({len(cs) - len(todo)} already present; dropped: {dropped_arg} with "
        f"|arg z| > pi, {failed} route failures, {len(low)} below 30 digits), {secs} s -> {path} "
        f"({len(rows)} rows, min agreement {doc['min_agree_digits']} digits)"
    )


def key(kind, a, b, zr, zi):
    return (kind, repr(a), repr(b), repr(zr), repr(zi))


def main():
    if "--stokes" in sys.argv:
        return main_stokes()
    quick = "--quick" in sys.argv
    # a full run regenerates (or with --reuse keeps) the rows near |arg z| = a pi too
    cs = cases(quick) + ([] if quick else stokes_cases()[0])
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
