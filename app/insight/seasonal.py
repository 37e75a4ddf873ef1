"""The time-of-day profile of a SKU's sales, so steady sellers are not forecast from the hour.

Why: the level-plus-trend model runs on 15-minute bins, so on a seller with a day/night cycle
its level follows the time of day: in the evening peak it says "out in 15 h", at night "50 h",
and the naive "stock / 24 h average" beats it. The profile removes the cycle before the model
sees the sales (rates are divided by the profile of their hour) and puts it back on the demand
ahead (the model's rate times the profile of the hours to come), so the level is the day's
average rate and the hours left integrate the cycle.

The profile is the SKU's units per hour of the day (UTC, the shop's own cycle shows up in any
clock) over the model's older history (the last `RECENT_HOURS` are left out, so a surge does
not become "this hour is busy"), shrunk toward flat with `PRIOR_UNITS` pseudo-units per hour:
a SKU with a few sales a day gets an almost flat profile.
"""

from __future__ import annotations

import numpy as np

from app.insight.history import FloatArray, IntArray, ShopHistory
from app.insight.stockouts import HOUR

DAY_HOURS = 24
# Sales in this many hours before `now` are not used for the profile.
RECENT_HOURS = 12.0
PROFILE_DAYS = 7.0
PRIOR_UNITS = 8.0
# The grid on which seasonal hours left are solved, and how far it reaches.
STEP_HOURS = 0.5
GRID_HOURS = 48.0


def hour_of_day(times: FloatArray) -> IntArray:
    result: IntArray = (np.floor(times / HOUR) % DAY_HOURS).astype(np.int64)
    return result


def daily_profile(history: ShopHistory, now: float) -> FloatArray:
    """(SKUs x 24) multipliers of the day's average rate, mean 1 per SKU.

    Only whole days count, from the day after the SKU's first sale in the window: a SKU that
    started selling two and a half days ago has some hours of the day three times and others
    twice, which is not a daily cycle.
    """
    n = len(history.skus)
    hi = now - RECENT_HOURS * HOUR
    whole = int(min(PROFILE_DAYS * 24 * HOUR, hi - history.since) // (24 * HOUR))
    if whole < 1:
        return np.ones((n, DAY_HOURS))
    lo = hi - whole * 24 * HOUR
    window = history.sales_between(lo, hi)
    sku, time = history.sale_sku[window], history.sale_time[window]
    units = history.sale_units[window]
    day = np.minimum(((time - lo) // (24 * HOUR)).astype(np.int64), whole - 1)
    # A SKU's days count from the first day it sold on.
    active = np.bincount(sku * whole + day, minlength=n * whole).reshape(n, whole) > 0
    first = np.where(active.any(axis=1), np.argmax(active, axis=1), whole)
    # The first day it sold on may have been partly before it started selling: from the next.
    first = np.where(first > 0, first + 1, first)
    counted = day >= first[sku]
    counts = np.bincount(
        sku * DAY_HOURS + hour_of_day(time),
        weights=np.where(counted, units, 0.0),
        minlength=n * DAY_HOURS,
    ).reshape(n, DAY_HOURS)
    days = whole - first
    # PRIOR_UNITS pseudo-units per hour of the day pull toward flat.
    mean = counts.mean(axis=1, keepdims=True)
    shrunk = (counts + PRIOR_UNITS) / (mean + PRIOR_UNITS)
    result: FloatArray = np.where(days[:, None] >= 1, shrunk, 1.0)
    return result / result.mean(axis=1, keepdims=True)


def bin_profile(profile: FloatArray, edges: FloatArray) -> FloatArray:
    """(bins x SKUs) profile at each bin's middle."""
    middle = 0.5 * (edges[1:] + edges[:-1])
    result: FloatArray = profile[:, hour_of_day(middle)].T
    return result


def hours_until(
    rate_at: FloatArray, profile: FloatArray, now: float, units: FloatArray
) -> FloatArray:
    """Hours until cumulative demand reaches `units[j]`, demand at hour h ahead being
    `rate_at[j, k] * profile[j, hour of day]` on the grid k (STEP_HOURS apart, GRID_HOURS long,
    rates at the steps' middles); after the grid the last rate is held (the profile averages
    out). inf when it never does."""
    steps = rate_at.shape[1]
    middle: FloatArray = now + (np.arange(steps, dtype=np.float64) + 0.5) * STEP_HOURS * HOUR
    seasonal = rate_at * profile[:, hour_of_day(middle)]
    cumulative = np.cumsum(seasonal * STEP_HOURS, axis=1)
    a = np.maximum(units, 0.0)
    reached = cumulative >= a[:, None]
    inside = reached[:, -1]
    j = np.argmax(reached, axis=1)
    rows = np.arange(len(a))
    before = np.where(j > 0, cumulative[rows, np.maximum(j - 1, 0)], 0.0)
    step_rate = np.maximum(seasonal[rows, j], 1e-300)
    within = (j + np.clip((a - before) / (step_rate * STEP_HOURS), 0.0, 1.0)) * STEP_HOURS
    last = rate_at[:, -1]
    with np.errstate(divide="ignore", invalid="ignore"):
        beyond = steps * STEP_HOURS + (a - cumulative[:, -1]) / last
    result: FloatArray = np.where(inside, within, np.where(last > 0, beyond, np.inf))
    return np.where(a <= 0, 0.0, result)
