"""Column types and small vocabularies shared by the store's tables and repository functions.

Money is stored as the exact decimal string TikTok sent (`"12.990"` stays `"12.990"`): no
currency-exponent table is needed, any precision survives, and SQLite never turns it into a
float because the store never asks SQLite to do arithmetic on it (sums happen in Python with
`Decimal`, see `orders.revenue_per_hour`).
"""

from __future__ import annotations

import decimal
import enum
from contextlib import AbstractContextManager
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import String
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

__all__ = ["MoneyType", "StockCause", "exact_money", "to_money"]


def to_money(value: object) -> Decimal:
    """`value` as an exact, finite `Decimal`; floats are refused because they are already wrong."""
    if isinstance(value, bool | float):
        raise TypeError("money must be a Decimal, int or decimal string, never a float or bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation:
            raise ValueError("money must be a decimal string") from None
    else:
        raise TypeError(f"money must be a Decimal, int or decimal string, not {type(value)!r}")
    if not result.is_finite():
        raise ValueError("money must be finite")
    return result


def exact_money() -> AbstractContextManager[decimal.Context]:
    """A decimal context where sums of money are exact: the default context keeps only 28
    significant digits and would round silently; this one traps any rounding instead."""
    context = decimal.Context(prec=decimal.MAX_PREC, Emax=decimal.MAX_EMAX, Emin=decimal.MIN_EMIN)
    context.traps[decimal.Inexact] = True
    return decimal.localcontext(context)


class MoneyType(TypeDecorator[Decimal]):
    """A `Decimal` stored as its exact string form in a TEXT column."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        if value is None:
            return None
        return str(to_money(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(value)


class StockCause(enum.StrEnum):
    """Why a SKU's stock level changed; stored in `stock_history.cause`."""

    SYNC = "sync"  # a product or inventory poll of the Open API saw a new level
    WEBHOOK = "webhook"  # an inventory webhook reported a new level
    ORDER = "order"  # a local estimate after an order, before the next poll confirms it
    CANCEL = "cancel"  # a cancelled order gave units back
    RESTOCK = "restock"  # the seller (through ViralStock) raised the stock
    MANUAL = "manual"  # any other correction made in the app
