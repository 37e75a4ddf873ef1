"""The seller's words for numbers: one formatter for the window, tray, CSV and report (#20)."""

from __future__ import annotations

from decimal import Decimal

from app.insight import fmt
from app.insight.text import headline


def test_formatting_in_plain_words() -> None:
    assert fmt.hours(None) == "N/A"
    assert fmt.hours(0) == "out of stock"
    assert fmt.hours(0.5) == "30 min"
    assert fmt.hours(6) == "6 h"
    assert fmt.hours(72) == "3 days"
    assert fmt.hours(24) == "24 h"
    assert fmt.hours(36.6) == "37 h"
    assert fmt.hours(84) == "3.5 days"
    assert fmt.duration(48) == "2 days"
    assert fmt.count(1, "unit") == "1 unit"
    assert fmt.count(1.2, "unit") == "1 unit"
    assert fmt.count(2, "unit") == "2 units"
    assert fmt.count(1250, "unit") == "1,250 units"
    assert fmt.rate(47.2) == "47/hour"
    assert fmt.rate(0.1) == "2.4/day"
    assert fmt.ago(100.0, 160.0) == "1 min ago"
    assert fmt.money(Decimal("43222.4")) == "$43,222"


def test_no_number_reads_one_units() -> None:
    """'1 units' was on screen; every count goes through `fmt.count`."""
    assert fmt.count(0, "unit") == "0 units"
    assert fmt.count(0.6, "order") == "1 order"
    assert fmt.duration(24) == "24 h"
    assert fmt.duration(36) == "36 h"
    assert fmt.duration(48 + 12) == "2.5 days"


def test_headline_uses_the_same_words_as_the_cards() -> None:
    line = headline(context_text="steady sales", rate=47.2, hours=6.0, reorder=1500)
    assert line == "steady sales · selling 47/hour, 6 h of stock · reorder 1,500"
    assert f"{fmt.hours(0.75)} of stock" in headline(
        context_text="x", rate=100, hours=0.75, reorder=0
    )
    empty = headline(context_text="out of stock", rate=3.0, hours=0.0, reorder=10)
    assert empty == "out of stock · was selling 3/hour · reorder 10"
    viral = headline(context_text="viral video 'A' driving orders", rate=40, hours=0.0, reorder=5)
    assert viral == "viral video 'A' driving orders · out of stock, was selling 40/hour · reorder 5"
