"""ffpe: time-fractional Fokker-Planck equations, Mittag-Leffler functions, fractional
relaxation and SGLD estimates of the local learning coefficient (LLC), from Python.

Thin bindings (PyO3) over the Rust crates ``ffpe-solvers``, ``ffpe`` and
``ffpe-validation``: every number is computed by them, exactly as by the ``ffpe`` and
``ffpe-validate`` commands. This module only converts arguments (numpy arrays, dicts,
devinterp's option names) and reshapes the results.

Functions
---------
mittag_leffler(alpha, beta, z)
    E_{alpha,beta}(z), vectorised over real or complex numpy arrays.
relax(alpha, c, t, *, steps, mesh, history, ...)
    D^alpha y = -c y, y(0) = y0 by the implicit L1 scheme (exact: y0 E_alpha(-c t^alpha)).
solve(problem, *, snapshots, progress)
    A Fokker-Planck problem (TOML path or dict with the CLI's keys): times, moments,
    densities and solver statistics as numpy arrays.
steady(problem)
    Steady state (null-space solve) against the Boltzmann closed form.
exponent(problem, window)
    Displacement exponent s of R(t) ~ t^s over a window (as ``ffpe exponent``).
llc(weights, data=None, arch=None, **devinterp_options)
    LLC of a PyTorch MLP (state_dict or safetensors file), devinterp's option names and
    result keys; the same number as ``ffpe-validate llc`` with the same seed.
analyze(runs, include=None, keep_buffers=False)
    Displacement R(t) of training runs and, for runs from one initialisation, the
    drift/diffusion split (as ``ffpe-validate analyze --json``), from checkpoint directories
    or (steps, weights) arrays. ``ffpe.torch.Recorder`` writes such directories from PyTorch.

Bad input raises ``ValueError`` naming the field and its allowed range (``OSError`` for
files). Long computations release the GIL, stop on Ctrl-C, and call ``progress(done,
total)`` about 100 times when given (``progress=True`` shows a tqdm bar if tqdm is
installed).
"""

from __future__ import annotations

import os
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from . import _native
from . import examples as examples

__all__ = [
    "mittag_leffler",
    "relax",
    "solve",
    "steady",
    "exponent",
    "llc",
    "llc_truth",
    "analyze",
    "problem_toml",
    "__version__",
]

__version__: str = _native.__version__


def _progress(progress: Any, desc: str) -> tuple[Callable[[float, float], None] | None, Any]:
    """A callback from ``progress``: None, a callable ``(done, total)``, or True (tqdm)."""
    if progress is None or progress is False:
        return None, None
    if progress is True:
        try:
            from tqdm.auto import tqdm
        except ImportError:
            import warnings

            warnings.warn(
                "progress=True shows a tqdm bar, but tqdm is not installed (pip install tqdm): "
                "no progress is shown",
                stacklevel=3,
            )
            return None, None
        bar = tqdm(total=1.0, desc=desc, bar_format="{l_bar}{bar}| {elapsed}<{remaining}")

        def cb(done: float, total: float) -> None:
            bar.update(max(0.0, done / total - bar.n) if total > 0 else 0.0)

        return cb, bar
    if not callable(progress):
        raise ValueError("`progress`: expected None, True (tqdm) or a callable (done, total)")
    return progress, None


def _count(name: str, v: Any, minimum: int = 0) -> int:
    """``v`` as an int ``>= minimum``, or a ValueError naming the field."""
    try:
        i = int(v)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` = {v!r}: allowed an integer >= {minimum}") from None
    if i != v or i < minimum:
        raise ValueError(f"`{name}` = {v!r} is out of range: allowed an integer >= {minimum}")
    return i


def mittag_leffler(alpha: float, beta: float, z: Any) -> Any:
    """Mittag-Leffler function ``E_{alpha,beta}(z) = sum_k z^k / Gamma(alpha k + beta)``.

    Parameters
    ----------
    alpha : float
        ``0 < alpha <= 1``.
    beta : float
        Real, ``|beta| <= 100``.
    z : float, complex or array_like
        Arguments (real or complex, any shape); every value must be finite.

    Returns
    -------
    float, complex or numpy.ndarray
        Same shape as ``z``: float64 for real input, complex128 for complex input
        (a Python scalar for scalar input).

    Raises
    ------
    ValueError
        ``alpha``, ``beta`` out of range or a non-finite ``z``.

    Examples
    --------
    >>> import ffpe, numpy as np
    >>> float(ffpe.mittag_leffler(0.5, 1.0, -1.0))  # e erfc(1)
    0.427583576155807
    """
    arr = np.asarray(z)
    scalar = arr.ndim == 0
    try:
        if np.iscomplexobj(arr):
            flat = np.ascontiguousarray(arr, dtype=np.complex128).ravel()
            fun = _native.mittag_leffler_complex
        else:
            flat = np.ascontiguousarray(arr, dtype=np.float64).ravel()
            fun = _native.mittag_leffler_real
    except (TypeError, ValueError) as e:
        raise ValueError(f"`z`: expected real or complex numbers ({e})") from None
    try:
        out = fun(float(alpha), float(beta), flat)
    except ValueError as e:
        # the Rust kernel calls the parameters a and b
        msg = str(e).replace("input a =", "input alpha =").replace("input b =", "input beta =")
        raise ValueError(msg) from None
    out = out.reshape(arr.shape)
    return out[()] if scalar else out


def relax(
    alpha: float,
    c: float,
    t: float | None = None,
    *,
    steps: int = 1000,
    mesh: str | Any = "graded",
    grading: float | None = None,
    history: str = "soe",
    tolerance: float = 1e-12,
    y0: float = 1.0,
    progress: Any = None,
) -> dict[str, Any]:
    """Fractional relaxation ``D^alpha y = -c y``, ``y(0) = y0``, by the implicit L1 scheme.

    The exact solution is ``y0 * E_alpha(-c t^alpha)`` (:func:`mittag_leffler`).

    Parameters
    ----------
    alpha : float
        Caputo order, ``0 < alpha <= 1``.
    c : float
        Rate (finite).
    t : float
        Final time ``> 0`` (optional when ``mesh`` is an array: its last node).
    steps : int
        Number of steps ``N >= 1`` of a "graded" or "uniform" mesh.
    mesh : "graded", "uniform" or array_like
        Graded ``t_j = t (j/N)^r`` (``r = grading``, default ``(2 - alpha)/alpha``, which
        restores the order ``2 - alpha``), uniform ``t_j = t j/N``, or the mesh nodes
        ``0 = t_0 < t_1 < ... < t_N`` themselves (e.g. another code's mesh).
    grading : float, optional
        ``1 <= r <= 100`` (graded meshes only).
    history : "direct", "soe" or "fft"
        History sum: the O(N^2) direct sum, the sum-of-exponentials fast L1 (any mesh), or
        FFT convolution (uniform meshes only).
    tolerance : float
        SOE kernel tolerance, ``1e-15 <= tolerance <= 1e-2``.
    y0 : float
        Initial value.
    progress : None, True or callable
        ``progress(done_steps, total_steps)`` about 100 times; True: a tqdm bar.

    Returns
    -------
    dict
        ``t`` (N+1 mesh times), ``y`` (N+1 values), ``stats`` (steps, factorizations,
        history_terms, exponentials, seconds).
    """
    times = None
    if not isinstance(mesh, str):
        times = np.ascontiguousarray(mesh, dtype=np.float64).ravel()
        if times.size == 0:
            raise ValueError("`mesh`: an array of times needs at least 2 entries")
        if t is None:
            t = float(times[-1])
        mesh = "given"
    if t is None:
        raise ValueError("`t`: the final time is required (a number > 0)")
    cb, bar = _progress(progress, "relax")
    try:
        return _native.relax(
            float(alpha),
            float(c),
            float(t),
            _count("steps", steps, 1),
            mesh,
            grading=None if grading is None else float(grading),
            times=times,
            history=history,
            tolerance=float(tolerance),
            y0=float(y0),
            progress=cb,
        )
    finally:
        if bar is not None:
            bar.close()


def _problem(problem: Any) -> Any:
    if isinstance(problem, Mapping):
        return dict(problem)
    if isinstance(problem, (str, os.PathLike)):
        return os.fspath(problem)
    raise ValueError(
        "`problem`: expected a dict with the keys of a problem file, or a path to a TOML file"
    )


def problem_toml(problem: Mapping[str, Any]) -> str:
    """The TOML text of a problem dict, as :func:`solve` parses it (validated)."""
    return _native.parse_problem(dict(problem))


def _grid(g: dict[str, Any]) -> dict[str, Any]:
    g = dict(g)
    g["cells"] = tuple(g["cells"])
    return g


def solve(problem: Any, *, snapshots: bool | None = None, progress: Any = None) -> dict[str, Any]:
    """Solve a time-fractional Fokker-Planck problem, as ``ffpe solve --json`` does.

    Parameters
    ----------
    problem : str, os.PathLike or dict
        A TOML problem file, or a dict with the same sections and keys
        (``{"equation": {"alpha": 0.5}, "domain": {...}, "time": {...}, ...}``; lists or
        numpy arrays for per-axis values; ``None`` values take the default).
    snapshots : bool, optional
        Keep the densities at the output times (default: ``[output] snapshots``).
    progress : None, True or callable
        ``progress(t, t_end)`` about 100 times (full grids; sparse grids report at the end);
        True: a tqdm bar.

    Returns
    -------
    dict
        ``times`` (n,), ``mass`` (n,), ``mean`` (n, d), ``second_moment`` (n, d),
        ``covariance`` (n, d, d), ``msd``, ``r``, ``min_density``, ``free_energy``,
        ``kl_to_steady``, ``l1_to_steady`` (n,; NaN where not defined), ``densities``
        (k, *cells; axis i of a density is axis i of the domain), ``snapshot_times`` (k,),
        ``grid`` (lower, upper, cells, centres per axis), ``stats`` (steps, history_terms,
        exponentials, factorizations, seconds, step_seconds, unknowns), ``stop_reason``,
        ``sparse`` (the sparse-grid report, or None).
    """
    cb, bar = _progress(progress, "solve")
    try:
        r = _native.solve(_problem(problem), snapshots=snapshots, progress=cb)
    finally:
        if bar is not None:
            bar.close()
    d = r.pop("dim")
    n = r["times"].size
    for k in ("mean", "second_moment"):
        r[k] = r[k].reshape(n, d)
    r["covariance"] = r["covariance"].reshape(n, d, d)
    r["grid"] = _grid(r["grid"])
    cells = r["grid"]["cells"]
    k = r["snapshot_times"].size
    # Rust stores densities with axis 0 fastest (Fortran order).
    r["densities"] = r["densities"].reshape((k,) + cells[::-1]).transpose(
        (0,) + tuple(range(len(cells), 0, -1))
    )
    return r


def steady(problem: Any) -> dict[str, Any]:
    """Steady state of a problem (null-space solve), as ``ffpe steady --json``.

    Returns
    -------
    dict
        ``density`` (*cells), ``boltzmann`` (*cells, or None without a closed form),
        ``l1_vs_boltzmann`` (float or None), ``residual`` (max ``|A p|``), ``mean`` and
        ``second_moment`` (per axis), ``free_energy``, ``grid``.
    """
    r = _native.steady(_problem(problem))
    r.pop("dim")
    r["grid"] = _grid(r["grid"])
    cells = r["grid"]["cells"]
    for k in ("density", "boltzmann"):
        if r[k] is not None:
            r[k] = r[k].reshape(cells, order="F")
    return r


def exponent(problem: Any, window: tuple[float, float]) -> dict[str, Any]:
    """Displacement exponent ``s`` of ``R(t) ~ t^s`` over ``window = (t0, t1)``.

    The problem is solved with 24 log-spaced output times in the window and ``log R`` is
    fitted on ``log t`` by least squares, as ``ffpe exponent --window t0,t1 --json``
    (``0 < t0 < t1 <= t_end``; an FFT history is replaced by SOE).

    Returns
    -------
    dict
        ``displacement_exponent``, ``intercept``, ``r2``, ``stderr``, ``ci95`` (tuple),
        ``points``, ``caputo_alpha`` (free subdiffusion predicts ``s = alpha / 2``).
    """
    try:
        t0, t1 = (float(x) for x in window)
    except (TypeError, ValueError):
        raise ValueError("`window`: expected (t0, t1), two numbers") from None
    return _native.exponent(_problem(problem), (t0, t1))


def _state_dict(weights: Any) -> Any:
    if isinstance(weights, (str, os.PathLike)):
        return os.fspath(weights)
    if isinstance(weights, Mapping):
        out = []
        for name, v in weights.items():
            if hasattr(v, "detach"):  # a torch tensor
                v = v.detach().cpu().numpy()
            out.append((str(name), np.ascontiguousarray(v, dtype=np.float32)))
        return out
    raise ValueError(
        "`weights`: expected a path to a safetensors file or a state_dict (names -> arrays)"
    )


def _data(data: Any) -> Any:
    if data is None or isinstance(data, (str, os.PathLike)):
        return None if data is None else os.fspath(data)
    try:
        x, y = data
    except (TypeError, ValueError):
        raise ValueError(
            "`data`: expected None (bundled MNIST), a directory of IDX files, or (images, labels)"
        ) from None
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    if hasattr(y, "detach"):
        y = y.detach().cpu().numpy()
    x = np.asarray(x, dtype=np.float32)
    x = np.ascontiguousarray(x.reshape(x.shape[0], -1) if x.ndim != 2 else x)
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError("`data` labels: expected integers 0 <= label <= 255")
    return (x, np.ascontiguousarray(y, dtype=np.int64).ravel())


# Field names of the Rust estimator's errors -> devinterp's option names.
_LLC_FIELDS = {
    "epsilon": "lr",
    "gamma": "localization",
    "noise-level": "noise_level",
    "chains": "num_chains",
    "draws": "num_draws",
    "steps-between-draws": "num_steps_bw_draws",
    "batch-size": "batch_size",
    "init-loss": "init_loss",
}


def _llc_native(weights, data, arch, batchnorm, opts, nb, num_chains, num_draws,
                num_burnin_steps, num_steps_bw_draws, batch_size, seed, shuffle,
                init_loss, cores, device, n_train, n_test, split_seed, progress):
    return _native.llc(
        _state_dict(weights),
        data=_data(data),
        arch=arch,
        batchnorm=bool(batchnorm),
        epsilon=float(opts.get("lr", 1e-4)),
        gamma=float(opts.get("localization", 100.0)),
        nbeta=str(nb),
        chains=_count("num_chains", num_chains, 1),
        draws=_count("num_draws", num_draws, 1),
        burnin=_count("num_burnin_steps", num_burnin_steps, 0),
        steps_between_draws=_count("num_steps_bw_draws", num_steps_bw_draws, 1),
        batch_size=_count("batch_size", batch_size, 1),
        seed=_count("seed", seed, 0),
        noise_level=float(opts.get("noise_level", 1.0)),
        shuffle=bool(shuffle),
        init_loss=init_loss,
        threads=_count("cores", cores, 1),
        device=str(device),
        n_train=_count("n_train", n_train, 1),
        n_test=_count("n_test", n_test, 0),
        split_seed=_count("split_seed", split_seed, 0),
        progress=progress,
    )


def llc(
    weights: Any,
    data: Any = None,
    arch: str | None = None,
    *,
    optimizer_kwargs: Mapping[str, Any] | None = None,
    num_chains: int = 4,
    num_draws: int = 1000,
    num_burnin_steps: int = 0,
    num_steps_bw_draws: int = 1,
    batch_size: int = 256,
    seed: int = 0,
    init_loss: str | float | None = None,
    shuffle: bool = True,
    cores: int = 1,
    device: str = "cpu",
    batchnorm: bool = False,
    n_train: int = 8000,
    n_test: int = 2000,
    split_seed: int = 0,
    lr: float | None = None,
    localization: float | None = None,
    nbeta: float | str | None = None,
    noise_level: float | None = None,
    progress: Any = None,
) -> dict[str, Any]:
    """Local learning coefficient of an MLP by SGLD (Lau et al.; devinterp's estimator).

    The same computation as ``ffpe-validate llc`` (same seed, same number): each chain
    starts at ``w*`` and steps ``w <- w - (lr/2) (nbeta grad L_B(w) + localization (w - w*))
    + sqrt(lr) noise_level N(0, I)``; ``llc = nbeta (mean draw loss - L(w*))``.

    Parameters
    ----------
    weights : str, os.PathLike or Mapping
        A safetensors file, or a PyTorch state_dict (``fc1.weight`` ``[out, in]``,
        ``fc1.bias``, ..., optional ``bn1.*``) of numpy arrays or torch tensors.
    data : None, str, os.PathLike or (images, labels)
        None: the bundled 10,000 MNIST digits (the seeded 8,000-image training split);
        a directory of IDX files; or arrays ``images`` ``[n, d]`` (pixels, e.g. in [0, 1])
        and integer ``labels`` ``[n]``.
    arch : str, optional
        Expected architecture, e.g. ``"784-128-10"`` (checked against the weights).
    optimizer_kwargs : dict, optional
        devinterp's SGLD options: ``lr`` (1e-4), ``localization`` (100), ``nbeta``
        ("batch" = B / ln B, "dataset" = n / ln n, or a number), ``noise_level`` (1).
        The same names are also accepted as keyword arguments.
    num_chains, num_draws, num_burnin_steps, num_steps_bw_draws : int
        Chains (4), draws per chain (1000), burn-in steps (0), steps between draws (1).
    batch_size : int
        Minibatch size (256).
    seed : int
        Seed of the minibatch order and the noise.
    init_loss : str or float, optional
        ``L(w*)``: "full" (default: the full training loss), "batches:K" (the mean over
        the first K minibatches), or a number (devinterp's ``init_loss=``: the given value,
        finite and >= 0, used as is; the traces do not depend on it).
    shuffle : bool
        Shuffled minibatches (default) or dataset order.
    cores : int
        Threads: chain groups run in parallel (results do not depend on it).
    device : str
        "cpu" (or "cuda" in a CUDA build).
    progress : None, True or callable
        ``progress(done, total)`` about 100 times, in chain-steps (``total = num_chains *
        (num_burnin_steps + num_draws * num_steps_bw_draws)``; ``done`` increases and ends
        at ``total``); True: a tqdm bar. An exception raised by the callback stops the run
        and is re-raised; so does Ctrl-C. The GIL is released during the estimate. With
        ``cores > 1`` the callback may be called from the chain threads (one call at a time).
        With your own tqdm bar: ``with tqdm(total=chains * steps) as bar: ffpe.llc(...,
        progress=lambda done, total: bar.update(done - bar.n))``.

    Returns
    -------
    dict
        devinterp's keys: ``llc/mean``, ``llc/std`` (over chains, n-1), ``llc-chain/i``,
        ``loss/trace`` (chains x draws; NaN after a divergence), ``llc/means`` (running
        estimate after each draw, chains pooled); and ``init_loss``, ``nbeta``,
        ``warnings``, ``draws_per_second``, ``loss/trace_all_steps`` (every step, burn-in
        included); ``diagnostics`` (``rhat``, ``ess_bulk``, ``ess_tail``, ``acceptance``,
        ``acceptance_steps``, ``burn_in``, ``warnings``) and ``n_beta`` (``value``,
        ``convention``, ``batch``, ``dataset``), as ``ffpe-validate llc --json``.
    """
    opts = dict(optimizer_kwargs or {})
    for k, v in (("lr", lr), ("localization", localization), ("nbeta", nbeta), ("noise_level", noise_level)):
        if v is not None:
            opts[k] = v
    unknown = set(opts) - {"lr", "localization", "nbeta", "noise_level"}
    if unknown:
        raise ValueError(
            f"`optimizer_kwargs`: unknown keys {sorted(unknown)}; allowed lr, localization, nbeta, noise_level"
        )
    nb = opts.get("nbeta", "batch")
    if nb is None:
        nb = "batch"
    if init_loss is None:
        init_loss = "full"
    if isinstance(init_loss, (bool, np.bool_)) or not isinstance(init_loss, (str, int, float, np.number)):
        raise ValueError(
            f"`init_loss` = {init_loss!r}: allowed \"full\", \"batches:K\" (K >= 1) or a number >= 0"
        )
    if not isinstance(init_loss, str):
        init_loss = float(init_loss)
    cb, bar = _progress(progress, "llc")
    try:
        r = _llc_native(weights, data, arch, batchnorm, opts, nb, num_chains, num_draws,
                        num_burnin_steps, num_steps_bw_draws, batch_size, seed, shuffle,
                        init_loss, cores, device, n_train, n_test, split_seed, cb)
    except ValueError as e:
        msg = str(e)
        for rust, ours in _LLC_FIELDS.items():
            if msg.startswith(f"invalid {rust} ="):
                raise ValueError(f"invalid {ours} =" + msg[len(f"invalid {rust} ="):]) from None
        raise  # other messages (and a ValueError raised by `progress`) as they are
    finally:
        if bar is not None:
            bar.close()
    steps = num_burnin_steps + num_draws * num_steps_bw_draws
    full = np.full((len(r["trace"]), steps), np.nan)
    for i, tr in enumerate(r["trace"]):
        full[i, : len(tr)] = tr
    out: dict[str, Any] = {
        "llc/mean": r["llc_mean"],
        "llc/std": r["llc_std"],
        **{f"llc-chain/{i}": v for i, v in enumerate(r["llc_per_chain"])},
        # the draws: steps burnin, burnin + k, burnin + 2k, ... (as the Rust estimator)
        "loss/trace": full[:, num_burnin_steps::num_steps_bw_draws],
        "loss/trace_all_steps": full,
        "llc/means": np.asarray(r["llc_running"]),
        "init_loss": r["init_loss"],
        "nbeta": r["nbeta"],
        "warnings": r["warnings"],
        "draws_per_second": r["draws_per_second"],
        # the keys of `ffpe-validate llc --json`
        "diagnostics": r["diagnostics"],
        "n_beta": r["n_beta"],
    }
    return out


def llc_truth(
    model: str,
    *,
    seed: int = 0,
    nbeta: float | None = None,
    lr: float | None = None,
    localization: float | None = None,
    num_chains: int | None = None,
    num_draws: int | None = None,
    num_burnin_steps: int | None = None,
    num_steps_bw_draws: int | None = None,
) -> dict[str, Any]:
    """The LLC estimator against a closed-form learning coefficient (``ffpe-validate llc-truth``).

    ``model`` is ``"rrr:M,H,N,r"`` (reduced-rank regression, Aoyagi-Watanabe),
    ``"power:p1,p2,.."`` (``sum w_i^p_i``) or ``"crossing:p1,p2,.."`` (``prod w_i^p_i``);
    the SGLD settings default to the model's (see ``ffpe-validate llc-truth --help``).

    Returns
    -------
    dict
        ``estimate``, ``truth`` and ``diagnostics`` (``rhat``, ``ess_bulk``, ``ess_tail``,
        ``acceptance``, ``acceptance_steps``, ``burn_in``, ``warnings``): the keys of
        ``ffpe-validate llc-truth --json``.
    """
    def opt(name: str, v: Any, lo: int) -> int | None:
        return None if v is None else _count(name, v, lo)

    return dict(_native.llc_truth(
        str(model),
        seed=_count("seed", seed, 0),
        nbeta=None if nbeta is None else float(nbeta),
        epsilon=None if lr is None else float(lr),
        gamma=None if localization is None else float(localization),
        chains=opt("num_chains", num_chains, 1),
        draws=opt("num_draws", num_draws, 1),
        burnin=opt("num_burnin_steps", num_burnin_steps, 0),
        steps_between_draws=opt("num_steps_bw_draws", num_steps_bw_draws, 1),
    ))


def _run(i: int, run: Any) -> Any:
    """One item of ``analyze``'s ``runs`` as ``_native.analyze`` takes it."""
    if isinstance(run, (str, os.PathLike)):
        return os.fspath(run)
    if not isinstance(run, (tuple, list)) or len(run) != 2:
        raise ValueError(
            f"run {i}: expected a directory (str or os.PathLike) or a pair (steps, weights), "
            f"got {type(run).__name__}"
        )
    steps, weights = (a.detach().cpu().numpy() if hasattr(a, "detach") else a for a in run)
    steps, weights = np.asarray(steps), np.asarray(weights)
    if steps.ndim != 1 or not np.issubdtype(steps.dtype, np.integer):
        raise ValueError(
            f"run {i}: steps must be a 1-D integer array, got shape {steps.shape} of {steps.dtype}"
        )
    if steps.size and steps.min() < 0:
        raise ValueError(f"run {i}: steps must be >= 0, got {steps.min()}")
    if weights.ndim != 2 or not (
        np.issubdtype(weights.dtype, np.floating) or np.issubdtype(weights.dtype, np.integer)
    ):
        raise ValueError(
            f"run {i}: weights must be a 2-D float array (one row of flattened parameters per "
            f"step), got shape {weights.shape} of {weights.dtype}"
        )
    if weights.shape[0] != steps.shape[0]:
        raise ValueError(
            f"run {i}: {weights.shape[0]} rows of weights for {steps.shape[0]} steps: one row per step"
        )
    return (
        np.ascontiguousarray(steps, dtype=np.uint64),
        np.ascontiguousarray(weights, dtype=np.float32),
    )


def analyze(
    runs: Any, include: str | Sequence[str] | None = None, keep_buffers: bool = False
) -> dict[str, Any]:
    """Displacement and drift/diffusion of training runs, as ``ffpe-validate analyze --json``.

    The same Rust analysis as the command: per run ``R(t) = ||w_t - w_0||`` at the steps
    common to every run and its exponent in the late window ``[0.1 T, T]``; when the runs
    start from bit-identical weights (one initialisation, several minibatch streams), the
    ensemble's drift ``||m(t) - w_0||^2``, diffusion ``tr Sigma(t)`` and the exponent of
    ``tr Sigma`` in the same window.

    Parameters
    ----------
    runs : list
        One item per run, each either

        - a directory (str or os.PathLike) of safetensors checkpoints (or holding one named
          ``checkpoints/``), the step of each from its metadata ``step`` or the last digits of
          its file name (``ffpe.torch.Recorder`` writes such directories); or
        - a pair ``(steps, weights)``: ``steps`` a 1-D integer array (>= 0, each once, any
          order), ``weights`` a 2-D float array with one row of flattened parameters per step
          (the same row length in every run). Weights are analysed as float32, as checkpoints
          store them.
    include : str or list of str, optional
        Keep only checkpoint tensors whose name contains one of these (directories only; an
        in-memory run is used whole).
    keep_buffers : bool
        Keep BatchNorm buffers (``running_mean``, ``running_var``, ``num_batches_tracked``) of
        checkpoints; they are left out by default.

    Returns
    -------
    dict
        The keys of ``ffpe-validate analyze --json``: ``n_params``, ``tensors`` (names; empty
        when every run is in memory), ``steps`` (common to every run), ``runs`` (per run:
        ``dir`` (``"<in-memory run K>"`` for arrays), ``checkpoints``, ``r``,
        ``late_exponent``), ``shared_init``, ``initialisations`` (the runs grouped by
        bit-identical first weights), ``metrics`` (where each run's losses came from: a
        directory written by ``train`` brings its ``summary.json``), ``drift``, ``diffusion``
        (means over the initialisations), ``diffusion_exponent`` (None without an ensemble, in
        which every initialisation has at least two runs, or with too few late steps),
        ``notes``.

    Raises
    ------
    ValueError
        A malformed run, naming its position: shapes that do not match, a NaN or infinite
        weight, a step given twice, fewer than two common steps, a checkpoint without a step.
    OSError
        A directory or file that cannot be read.
    """
    if isinstance(runs, (str, os.PathLike)) or not isinstance(runs, Sequence):
        raise ValueError("`runs`: expected a list of directories and/or (steps, weights) pairs")
    if len(runs) == 0:
        raise ValueError("`runs` is empty: give at least one run")
    if include is None:
        inc: list[str] = []
    elif isinstance(include, str):
        inc = [include]
    else:
        inc = [str(x) for x in include]
    items = [_run(i, r) for i, r in enumerate(runs)]
    return dict(_native.analyze(items, include=inc, keep_buffers=bool(keep_buffers)))
