"""`merge_in_order` puts a webhook's few fresh rows into the shop cache's sorted columns
without sorting them all again (app/store/columns.py). The cache must stay exactly what a full
read gives, or an incremental recompute sees other inputs than the full one: the merge must
equal sorting held and fresh rows together, ties on any key included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from app.store.columns import SALE_KEYS, STOCK_KEYS, merge_in_order, sale_order, stock_order

# Few distinct values per column, so ties on the first keys (and on every key) are common.
_rows = hnp.arrays(
    np.float64,
    st.tuples(st.integers(0, 40), st.just(6)),
    elements=st.sampled_from([0.0, 1.0, 2.0, 3.0, 1.5e9, 1.5e9 + 1]),
)


@settings(max_examples=300, deadline=None)
@given(_rows, _rows)
def test_merging_sales_equals_sorting_them_together(held: np.ndarray, fresh: np.ndarray) -> None:
    held = held[sale_order(held)]
    together = np.concatenate((held, fresh))
    assert np.array_equal(merge_in_order(held, fresh, SALE_KEYS), together[sale_order(together)])


@settings(max_examples=300, deadline=None)
@given(_rows, _rows)
def test_merging_stock_changes_equals_sorting_them_together(
    held: np.ndarray, fresh: np.ndarray
) -> None:
    held, fresh = held[:, :4], fresh[:, :4]
    held = held[stock_order(held)]
    together = np.concatenate((held, fresh))
    assert np.array_equal(merge_in_order(held, fresh, STOCK_KEYS), together[stock_order(together)])
