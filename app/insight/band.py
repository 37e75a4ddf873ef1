"""The hours-left band from this SKU's recent forecast errors, not from model parameters.

Why: a band from the level's standard error says how noisy the last bins were, not how wrong
the forecast has been; on a viral curve it is far too narrow (the truth was inside it a third of
the time) and on a slow seller it can span 0.9 h to 410 h. Conformal-style instead: the
forecast the model would have made `LAGS_BINS` ago is compared with the units sold since, for
every SKU at once (the level-plus-trend model keeps its state at those bins, see
`forecast.holt`), and the log errors' spread, less the part Poisson noise explains, is the
model's error. The band on hours left is hours * exp(+-Z * s), with

    s^2 = model error * (1 + hours / ERROR_HORIZON_HOURS) + 1 / expected units

(the model's error grows with the horizon; a stock-out `u` units away has Poisson spread
1/sqrt(u) of its own). The model error is shrunk toward PRIOR_VARIANCE with PRIOR_WEIGHT
pseudo-origins, so one lucky hour does not make a band collapse. For SKUs a video drives, the
errors of the blended forecast at its own origins (`app.insight.ensemble`) are added in.
"""

from __future__ import annotations

import numpy as np

from app.insight.forecast import BinnedSales, Holt
from app.insight.history import FloatArray

# Origins of the error check, in 15-minute bins before now (1, 2, 3 and 4 hours).
LAGS_BINS = (4, 8, 12, 16)
# z for the band's two ends (1.28 would hold 80% for normal errors; tuned to ~80% coverage on
# the tuning set, whose errors have fatter tails).
Z = 1.5
PRIOR_VARIANCE = 0.02
CAP_ERROR = 0.3
PRIOR_WEIGHT = 2.0
ERROR_HORIZON_HOURS = 4.0
MAX_HORIZON_HOURS = 24.0


def sales_errors(
    model: Holt, sales: BinnedSales, cycle: FloatArray, bin_hours: float
) -> FloatArray:
    """Per SKU: (sum of squared log errors less Poisson's part, count) of the level-plus-trend
    forecasts made at the model's snapshots, as a (2 x SKUs) array."""
    total = np.zeros(sales.units.shape[1])
    count = np.zeros_like(total)
    for back, level, trend in model.snapshots:
        ahead = (np.arange(back) + 0.5)[:, None] * bin_hours
        stocked = sales.in_stock_hours[-back:]
        rate = np.maximum(level[None, :] + trend[None, :] * ahead, 0.0) * cycle[-back:]
        predicted = (rate * stocked).sum(axis=0)
        actual = sales.units[-back:].sum(axis=0)
        error = squared_error(actual, predicted)
        observed = stocked.sum(axis=0) > 0.5 * back * bin_hours
        total += np.where(observed, error, 0.0)
        count += observed
    return np.stack((total, count))


def squared_error(actual: FloatArray, predicted: FloatArray) -> FloatArray:
    """Squared log error less Poisson's part, capped at CAP_ERROR: one origin caught on a
    take-off (off by a factor 50) must not make the band span days for the next hours."""
    error = np.log((actual + 0.5) / (predicted + 0.5)) ** 2 - 1.0 / (predicted + 0.5)
    result: FloatArray = np.minimum(error, CAP_ERROR)
    return result


def model_variance(errors: FloatArray) -> FloatArray:
    total, count = errors
    result: FloatArray = np.maximum(
        (total + PRIOR_WEIGHT * PRIOR_VARIANCE) / (count + PRIOR_WEIGHT), 0.25 * PRIOR_VARIANCE
    )
    return result


def hours_band(
    hours: FloatArray, variance: FloatArray, units: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """(low, high) hours left around `hours` for a model error `variance` (see module doc)."""
    # The horizon's growth stops at a day: beyond it the band's low end must still grow with
    # the stock (more stock never means a nearer stock-out at either end).
    finite = np.minimum(np.where(np.isfinite(hours), hours, 0.0), MAX_HORIZON_HOURS)
    spread = np.sqrt(variance * (1.0 + finite / ERROR_HORIZON_HOURS) + 1.0 / np.maximum(units, 1.0))
    low = np.where(np.isfinite(hours), hours * np.exp(-Z * spread), hours)
    high = np.where(np.isfinite(hours), hours * np.exp(Z * spread), np.inf)
    return low, high
