"""A simulated TikTok Shop over real HTTP, strict like the real one (issue 3).

Public API (kept stable for the client, relay, sync and demo code):
- `SandboxConfig`: seed, scenario, speed, qps, webhook_url, truth_file, credentials, sizes.
- `run_sandbox(config)`: context manager yielding a `RunningSandbox` with `.base_url` (Open API,
  auth host and `/open/authorize` on one origin), `.app_key`, `.app_secret`, `.service_id`,
  `.clock`, `.faults`, `.truth()`, `.stats()`, `.revoke(shop_id)`, `.authorize_code()`,
  `.shops`, `.webhook_url` (settable) and `.wait_webhooks()`.
"""

from __future__ import annotations

from app.sandbox.clock import SimClock
from app.sandbox.config import (
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DEFAULT_SERVICE_ID,
    DEFAULT_SPEED,
    SandboxConfig,
)
from app.sandbox.faults import Faults
from app.sandbox.server import RunningSandbox, run_sandbox

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_SERVICE_ID",
    "DEFAULT_SPEED",
    "Faults",
    "RunningSandbox",
    "SandboxConfig",
    "SimClock",
    "run_sandbox",
]
