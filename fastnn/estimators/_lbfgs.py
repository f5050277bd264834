"""L-BFGS for the MLP estimators' full-batch objective, in numpy.

scikit-learn's solver="lbfgs" hands its loss and gradient to scipy's L-BFGS-B with no bounds;
this is the same method without the bounds, the two-loop recursion over the last `memory`
(10, scipy's default) steps, scaled by sᵀy/yᵀy, and a line search for the strong Wolfe
conditions with scipy's constants (sufficient decrease 1e-3, curvature 0.9; the first step has
length one, later ones start at step 1). The stopping rules and their order are scipy's, so
that n_iter_, the warnings and `max_fun` behave as scikit-learn users know them:
- after each iteration, stop at `max_iter` iterations, or once more than `max_fun` function
  evaluations were made (status 1: "not converged");
- converged (status 0) when max |gradient| <= gtol (scikit-learn passes its `tol`), or when the
  objective fell by no more than ftol·max(|f_old|, |f|, 1) in the last iteration;
- a line search that finds no acceptable step restarts once from the steepest descent, then
  gives up (status 2), keeping the best point found.

Why not scipy's: fastnn needs only numpy, and scipy's L-BFGS-B runs its vector updates on the
BLAS, whose threads, on a busy machine, made a 97-iteration fit of a 10-50-1 network take
1.0-2.7 s where this takes 32 ms (same iterations, same stopping point, same R²; see
tests/test_mlp_dropin.py for the comparison with scipy). scikit-learn's own test file passes
on it (tests/test_sklearn_mlp_suite.py), max_fun and n_iter_ included.
"""
import math

import numpy as np

FTOL = 2.220446049250313e-09  # scipy's default factr·eps
SUFFICIENT_DECREASE, CURVATURE = 1e-3, 0.9
MAX_LINE_SEARCH_EVALUATIONS = 20


class Result:
    def __init__(self, x, fun, nit, nfev, status, message):
        self.x, self.fun, self.nit, self.nfev, self.status, self.message = x, fun, nit, nfev, status, message


def minimize(fun, x0, *, max_iter, max_fun, gtol, ftol=FTOL, memory=10, callback=None):
    """Minimise fun(x) -> (f, gradient) from x0 (float64 vectors). callback(nit, f) runs after
    each iteration. Returns a Result with x, fun, nit, nfev, status and message."""
    x = np.array(x0, dtype=np.float64)
    f, g = fun(x)
    nfev = 1
    if not np.isfinite(f):
        return Result(x, f, 0, nfev, 2, "ABNORMAL: the objective is not finite at the start")
    if np.max(np.abs(g)) <= gtol:
        return Result(x, f, 0, nfev, 0, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL")
    steps, changes = [], []  # s = x_{k+1} − x_k and y = g_{k+1} − g_k, oldest first
    nit = 0
    while True:
        direction = -_inverse_hessian_times(g, steps, changes)
        slope = float(direction @ g)
        if not slope < 0:  # rounding spoilt the quasi-Newton direction: steepest descent
            steps, changes = [], []
            direction, slope = -g, -float(g @ g)
        first_step = 1.0 if steps else min(1.0 / math.sqrt(-slope), 1e10)
        found, evaluations = _line_search(fun, x, f, g, direction, slope, first_step)
        nfev += evaluations
        if found is None:
            if steps:  # forget the curvature pairs and try once more along −g
                steps, changes = [], []
                continue
            return Result(x, f, nit, nfev, 2, "ABNORMAL_TERMINATION_IN_LNSRCH")
        x_new, f_new, g_new = found
        step, change = x_new - x, g_new - g
        f_old, x, f, g = f, x_new, f_new, g_new
        nit += 1
        if callback is not None:
            callback(nit, f)
        if nit >= max_iter:
            return Result(x, f, nit, nfev, 1, "STOP: TOTAL NO. OF ITERATIONS REACHED LIMIT")
        if nfev > max_fun:
            return Result(x, f, nit, nfev, 1, "STOP: TOTAL NO. OF F,G EVALUATIONS EXCEEDS LIMIT")
        if np.max(np.abs(g)) <= gtol:
            return Result(x, f, nit, nfev, 0, "CONVERGENCE: NORM OF PROJECTED GRADIENT <= PGTOL")
        if f_old - f <= ftol * max(abs(f_old), abs(f), 1.0):
            return Result(x, f, nit, nfev, 0, "CONVERGENCE: RELATIVE REDUCTION OF F <= FACTR*EPSMCH")
        curvature = float(step @ change)
        if curvature > np.finfo(np.float64).eps * float(change @ change):  # keeps H positive definite
            steps.append(step)
            changes.append(change)
            if len(steps) > memory:
                del steps[0], changes[0]


def _inverse_hessian_times(g, steps, changes):
    """H·g by the two-loop recursion, H the L-BFGS inverse-Hessian estimate."""
    q = g.copy()
    if not steps:
        return q
    rhos = [1.0 / float(s @ y) for s, y in zip(steps, changes)]
    alphas = []
    for s, y, rho in zip(reversed(steps), reversed(changes), reversed(rhos)):
        a = rho * float(s @ q)
        q -= a * y
        alphas.append(a)
    s, y = steps[-1], changes[-1]
    q *= float(s @ y) / float(y @ y)
    for s, y, rho, a in zip(steps, changes, rhos, reversed(alphas)):
        b = rho * float(y @ q)
        q += (a - b) * s
    return q


def _line_search(fun, x, f0, g0, direction, slope0, step):
    """A step t along `direction` meeting the strong Wolfe conditions (bracketing, then cubic
    interpolation inside the bracket). Returns ((x, f, g) at the accepted point, or None) and
    the number of evaluations made."""
    evaluations = 0

    def evaluate(t):
        nonlocal evaluations
        evaluations += 1
        point = x + t * direction
        f, g = fun(point)
        return point, f, g, float(g @ direction)

    def sufficient(t, f):
        return np.isfinite(f) and f <= f0 + SUFFICIENT_DECREASE * t * slope0

    def curvature_met(slope):
        return abs(slope) <= -CURVATURE * slope0

    low = (0.0, f0, slope0, None)  # (t, f, slope, (x, f, g)): the best point meeting sufficient decrease
    previous = low
    while evaluations < MAX_LINE_SEARCH_EVALUATIONS:
        point, f, g, slope = evaluate(step)
        if not sufficient(step, f) or (previous[0] > 0 and f >= previous[1]):
            high = (step, f, slope, None)
            break
        current = (step, f, slope, (point, f, g))
        if curvature_met(slope):
            return current[3], evaluations
        if slope >= 0:
            high, previous = previous, current
            low = current
            break
        low = previous = current
        step = min(4.0 * step, max(1.1 * step, _cubic_minimum(previous, (step, f, slope)) or 0.0))
        step = step if step > previous[0] else 2.0 * previous[0]
    else:
        return low[3], evaluations
    # zoom between low (sufficient decrease, the lower f) and high
    while evaluations < MAX_LINE_SEARCH_EVALUATIONS:
        lo_t, hi_t = low[0], high[0]
        width = hi_t - lo_t
        if abs(width) <= 1e-12 * max(abs(lo_t), abs(hi_t), 1e-300):
            break
        step = _cubic_minimum(low, high) if np.isfinite(high[1]) else None
        inner = (min(lo_t, hi_t) + 0.1 * abs(width), max(lo_t, hi_t) - 0.1 * abs(width))
        if step is None or not inner[0] <= step <= inner[1]:
            step = lo_t + 0.5 * width
        point, f, g, slope = evaluate(step)
        if not sufficient(step, f) or f >= low[1]:
            high = (step, f, slope, None)
            continue
        current = (step, f, slope, (point, f, g))
        if curvature_met(slope):
            return current[3], evaluations
        if slope * (hi_t - lo_t) >= 0:
            high = low
        low = current
    # the bracket closed or the budget ran out: keep the best point if it lowered f (as scipy
    # accepts a line search that ends on its interval-width warning)
    return low[3], evaluations


def _cubic_minimum(a, b):
    """The minimiser of the cubic through (t, f, slope) at a and b, or None if it has none."""
    (ta, fa, da), (tb, fb, db) = a[:3], b[:3]
    if ta == tb:
        return None
    d1 = da + db - 3.0 * (fa - fb) / (ta - tb)
    radicand = d1 * d1 - da * db
    if not np.isfinite(radicand) or radicand < 0:
        return None
    d2 = math.copysign(math.sqrt(radicand), tb - ta)
    denominator = db - da + 2.0 * d2
    if denominator == 0:
        return None
    t = tb - (tb - ta) * (db + d2 - d1) / denominator
    return t if np.isfinite(t) else None
