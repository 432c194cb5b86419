"""Type stubs of the ffpe package (see ffpe/__init__.py for the full docstrings)."""

import os
from typing import Any, Callable, Literal, Mapping, Optional, Sequence, Tuple, TypedDict, Union, overload

import numpy as np
import numpy.typing as npt

from . import examples as examples

__version__: str

ProgressArg = Union[None, bool, Callable[[float, float], Any]]
ProblemArg = Union[str, os.PathLike[str], Mapping[str, Any]]

class FodeStats(TypedDict):
    steps: int
    factorizations: int
    history_terms: int
    exponentials: int
    seconds: float

class Relaxation(TypedDict):
    t: npt.NDArray[np.float64]
    y: npt.NDArray[np.float64]
    stats: FodeStats

class Grid(TypedDict):
    lower: list[float]
    upper: list[float]
    cells: Tuple[int, ...]
    centres: list[npt.NDArray[np.float64]]

class SolveStats(TypedDict):
    steps: int
    history_terms: int
    exponentials: int
    factorizations: int
    seconds: float
    step_seconds: float
    unknowns: int

class Solution(TypedDict):
    times: npt.NDArray[np.float64]
    mass: npt.NDArray[np.float64]
    mean: npt.NDArray[np.float64]
    second_moment: npt.NDArray[np.float64]
    covariance: npt.NDArray[np.float64]
    msd: npt.NDArray[np.float64]
    r: npt.NDArray[np.float64]
    min_density: npt.NDArray[np.float64]
    free_energy: npt.NDArray[np.float64]
    kl_to_steady: npt.NDArray[np.float64]
    l1_to_steady: npt.NDArray[np.float64]
    snapshot_times: npt.NDArray[np.float64]
    densities: npt.NDArray[np.float64]
    grid: Grid
    stats: SolveStats
    stop_reason: Literal["FinalTime", "ObserverStop", "MaxSteps"]
    sparse: Optional[dict[str, Any]]

class Steady(TypedDict):
    density: npt.NDArray[np.float64]
    boltzmann: Optional[npt.NDArray[np.float64]]
    l1_vs_boltzmann: Optional[float]
    residual: float
    mean: list[float]
    second_moment: list[float]
    free_energy: Optional[float]
    grid: Grid

class Exponent(TypedDict):
    displacement_exponent: float
    intercept: float
    r2: float
    stderr: float
    ci95: Tuple[float, float]
    points: int
    caputo_alpha: float

class AnalysisRun(TypedDict):
    dir: str
    checkpoints: int
    r: list[float]
    late_exponent: Optional[float]

class Analysis(TypedDict):
    n_params: int
    tensors: list[str]
    steps: list[int]
    runs: list[AnalysisRun]
    shared_init: bool
    initialisations: int
    metrics: list[str]
    drift: Optional[list[float]]
    diffusion: Optional[list[float]]
    diffusion_exponent: Optional[float]
    notes: list[str]

# One run of `analyze`: a checkpoint directory or (steps [n] int, weights [n, p] float).
AnalysisRunArg = Union[str, os.PathLike[str], Tuple[npt.ArrayLike, npt.ArrayLike], Sequence[Any]]

@overload
def mittag_leffler(alpha: float, beta: float, z: float) -> float: ...
# A Python or numpy scalar gives a scalar (float64 and complex128 are float and complex
# subclasses); anything else array-like gives an array. Scalars are array-like too, hence the
# overlap, resolved in order (as in numpy's own stubs).
@overload
def mittag_leffler(alpha: float, beta: float, z: complex) -> complex: ...  # type: ignore[overload-overlap]
@overload
def mittag_leffler(alpha: float, beta: float, z: npt.ArrayLike) -> npt.NDArray[Any]: ...
def relax(
    alpha: float,
    c: float,
    t: Optional[float] = None,
    *,
    steps: int = 1000,
    mesh: Union[Literal["graded", "uniform"], npt.ArrayLike] = "graded",
    grading: Optional[float] = None,
    history: Literal["direct", "soe", "fft"] = "soe",
    tolerance: float = 1e-12,
    y0: float = 1.0,
    progress: ProgressArg = None,
) -> Relaxation: ...
def problem_toml(problem: Mapping[str, Any]) -> str: ...
def solve(
    problem: ProblemArg, *, snapshots: Optional[bool] = None, progress: ProgressArg = None
) -> Solution: ...
def steady(problem: ProblemArg) -> Steady: ...
def exponent(problem: ProblemArg, window: Tuple[float, float]) -> Exponent: ...
def llc(
    weights: Union[str, os.PathLike[str], Mapping[str, Any]],
    data: Union[None, str, os.PathLike[str], Tuple[npt.ArrayLike, npt.ArrayLike], Sequence[Any]] = None,
    arch: Optional[str] = None,
    *,
    optimizer_kwargs: Optional[Mapping[str, Any]] = None,
    num_chains: int = 4,
    num_draws: int = 1000,
    num_burnin_steps: int = 0,
    num_steps_bw_draws: int = 1,
    batch_size: int = 256,
    seed: int = 0,
    init_loss: Union[str, float, None] = None,
    shuffle: bool = True,
    cores: int = 1,
    device: str = "cpu",
    batchnorm: bool = False,
    n_train: int = 8000,
    n_test: int = 2000,
    split_seed: int = 0,
    lr: Optional[float] = None,
    localization: Optional[float] = None,
    nbeta: Union[float, str, None] = None,
    noise_level: Optional[float] = None,
    progress: ProgressArg = None,
) -> dict[str, Any]: ...
def llc_truth(
    model: str,
    *,
    seed: int = 0,
    nbeta: Optional[float] = None,
    lr: Optional[float] = None,
    localization: Optional[float] = None,
    num_chains: Optional[int] = None,
    num_draws: Optional[int] = None,
    num_burnin_steps: Optional[int] = None,
    num_steps_bw_draws: Optional[int] = None,
) -> dict[str, Any]: ...
def analyze(
    runs: Sequence[AnalysisRunArg],
    include: Union[str, Sequence[str], None] = None,
    keep_buffers: bool = False,
) -> Analysis: ...
