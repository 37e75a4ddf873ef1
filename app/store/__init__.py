"""The local store: SQLAlchemy 2 over one SQLite file in WAL mode (DESIGN.md section 1).

Open it once with `open_store(data_dir)`; then do each unit of work in one transaction:

    store = open_store(args.data_dir)          # None: the per-user data folder
    with store.write() as session:             # BEGIN IMMEDIATE ... COMMIT (or ROLLBACK)
        upsert_orders(session, shop_id, page.orders, now)
        set_watermark(session, shop_id, "orders", high_water, now)
    with store.read() as session:
        events = sales_events(session, shop_id, now - 86400, now)

Repository functions take the caller's session and never commit, so the caller decides what is
atomic (e.g. a webhook, its effects and the relay cursor). They are plain blocking SQLAlchemy:
call them from an executor thread, one session per thread. No Qt, no asyncio here.
"""

from app.store.alerts import (
    AlertEvent,
    alert_history,
    alert_levels,
    mark_alerts_notified,
    record_alert_level,
    record_alert_levels,
    unnotified_alerts,
)
from app.store.catalog import (
    ShopInfo,
    SkuStock,
    StockChange,
    StockPoint,
    current_stock,
    forget_shop,
    list_shops,
    mark_shop_deauthorized,
    record_stock,
    stock_histories,
    stock_history,
    upsert_inventory,
    upsert_products,
    upsert_shop,
)
from app.store.db import DB_FILENAME, Store, default_data_dir, open_store
from app.store.metrics import ApiCall, ApiStats, api_call_stats, prune_api_calls, record_api_calls
from app.store.migrations import (
    CURRENT_VERSION,
    NotAViralStockDatabaseError,
    SchemaTooNewError,
)
from app.store.orders import (
    HourlyRevenue,
    OrderSummary,
    OrderUpsert,
    SaleEvent,
    order_status_counts,
    orders_with_status,
    revenue_per_hour,
    sales_events,
    upsert_orders,
)
from app.store.progress import (
    SyncProgress,
    get_sync_progress,
    get_watermark,
    record_sync_attempt,
    set_watermark,
)
from app.store.settings import (
    BUILT_IN,
    get_settings,
    incoming_units,
    save_settings,
    set_shop_settings,
    set_sku_settings,
    shop_settings,
    sku_settings_for_shop,
)
from app.store.types import StockCause
from app.store.videos import (
    Attribution,
    VideoInfo,
    ViewPoint,
    attributions,
    record_affiliate_orders,
    record_attribution,
    upsert_videos,
    video_views,
    videos_for_products,
    view_histories,
)
from app.store.webhooks import (
    DeliveredWebhook,
    StoredWebhook,
    get_cursor,
    get_cursors,
    mark_webhook_processed,
    pending_webhooks,
    prune_webhooks,
    record_webhook,
    record_webhooks,
    set_cursor,
)

__all__ = [
    "BUILT_IN",
    "CURRENT_VERSION",
    "DB_FILENAME",
    "AlertEvent",
    "ApiCall",
    "ApiStats",
    "Attribution",
    "DeliveredWebhook",
    "HourlyRevenue",
    "NotAViralStockDatabaseError",
    "OrderSummary",
    "OrderUpsert",
    "SaleEvent",
    "SchemaTooNewError",
    "ShopInfo",
    "SkuStock",
    "StockCause",
    "StockChange",
    "StockPoint",
    "Store",
    "StoredWebhook",
    "SyncProgress",
    "VideoInfo",
    "ViewPoint",
    "alert_history",
    "alert_levels",
    "api_call_stats",
    "attributions",
    "current_stock",
    "default_data_dir",
    "forget_shop",
    "get_cursor",
    "get_cursors",
    "get_settings",
    "get_sync_progress",
    "get_watermark",
    "incoming_units",
    "list_shops",
    "mark_alerts_notified",
    "mark_shop_deauthorized",
    "mark_webhook_processed",
    "open_store",
    "order_status_counts",
    "orders_with_status",
    "pending_webhooks",
    "prune_api_calls",
    "prune_webhooks",
    "record_affiliate_orders",
    "record_alert_level",
    "record_alert_levels",
    "record_api_calls",
    "record_attribution",
    "record_stock",
    "record_sync_attempt",
    "record_webhook",
    "record_webhooks",
    "revenue_per_hour",
    "sales_events",
    "save_settings",
    "set_cursor",
    "set_shop_settings",
    "set_sku_settings",
    "set_watermark",
    "shop_settings",
    "sku_settings_for_shop",
    "stock_histories",
    "stock_history",
    "unnotified_alerts",
    "upsert_inventory",
    "upsert_orders",
    "upsert_products",
    "upsert_shop",
    "upsert_videos",
    "video_views",
    "videos_for_products",
    "view_histories",
]
