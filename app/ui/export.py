"""The reorder list as CSV (Qt-free): what to order, how much, and why."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path

from app.insight.alerts import attention_key
from app.insight.types import SkuInsight

COLUMNS = (
    "sku_id",
    "product",
    "variant",
    "alert_level",
    "available",
    "incoming",
    "selling_per_hour",
    "hours_of_stock_left",
    "reorder_quantity",
    "pack_size",
    "lead_time_days",
    "days_of_cover",
    "revenue_at_risk",
    "how_it_was_worked_out",
)


def reorder_rows(insights: Iterable[SkuInsight]) -> list[dict[str, str]]:
    """SKUs with a positive suggestion, in the alerts list's order (`attention_key`)."""
    wanted = sorted((s for s in insights if s.reorder.quantity > 0), key=attention_key)
    rows = []
    for s in wanted:
        r = s.reorder
        hours_left = s.forecast.hours_left
        rows.append(
            {
                "sku_id": s.sku_id,
                "product": s.product_name,
                "variant": s.sku_name,
                "alert_level": str(s.level),
                "available": str(s.available),
                "incoming": str(r.incoming),
                "selling_per_hour": f"{s.forecast.rate_per_hour:.4f}",
                "hours_of_stock_left": "" if hours_left is None else f"{hours_left:.1f}",
                "reorder_quantity": str(r.quantity),
                "pack_size": str(r.pack_size),
                "lead_time_days": f"{r.lead_time_hours / 24:g}",
                "days_of_cover": f"{r.days_of_cover:g}",
                "revenue_at_risk": str(s.revenue_at_risk),
                "how_it_was_worked_out": r.explanation,
            }
        )
    return rows


def reorder_csv(insights: Iterable[SkuInsight]) -> str:
    """The CSV text (header plus one row per SKU to reorder)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(reorder_rows(insights))
    return out.getvalue()


def write_reorder_csv(path: Path, insights: Iterable[SkuInsight]) -> int:
    """Write the reorder list to `path` (UTF-8 with BOM so spreadsheets read it); return rows."""
    rows = reorder_rows(insights)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)
