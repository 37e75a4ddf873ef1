"""Settings of one sandbox run.

Everything that shapes the simulated world is here, so that one `SandboxConfig` (and above all
one `seed`) reproduces the same shop, the same orders and the same viral surge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

__all__ = [
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DEFAULT_SERVICE_ID",
    "DEFAULT_SPEED",
    "DEFAULT_START_TIME",
    "SandboxConfig",
]

# Fixed demo credentials: the sandbox is loopback only, so these guard nothing real.
DEFAULT_APP_KEY = "6a1b2c3d4e5f6"
DEFAULT_APP_SECRET = "sandbox-demo-secret-0b7f3c9e1d2a4f68"  # noqa: S105 - public demo value
DEFAULT_SERVICE_ID = "7495100000000000001"

# Monday 2026-01-05 08:00:00 UTC: fixed so that a seed alone reproduces every timestamp.
DEFAULT_START_TIME = 1_767_600_000.0

# One real second is one simulated minute: the viral video takes off after one real minute and
# its hottest SKU sells out about five real minutes later, well inside a ten-minute demo.
DEFAULT_SPEED = 60.0

Scenario = Literal["steady", "viral", "lognormal", "gamma", "plateau", "powerlaw", "fizzle"]
# Every scenario but "steady" has one video take off; "viral" is the logistic S-curve, the others
# are the demand-curve families of `app.sandbox.curves` (the forecast's backtest shapes).
SCENARIOS: tuple[str, ...] = (
    "steady",
    "viral",
    "lognormal",
    "gamma",
    "plateau",
    "powerlaw",
    "fizzle",
)


@dataclass(frozen=True)
class SandboxConfig:
    """How to build and run one simulated TikTok Shop.

    `speed` is simulated seconds per real second. `qps` is the per app x shop rate limit (0 or
    less disables it). `start_time` is the simulated epoch at start; None means the fixed
    `DEFAULT_START_TIME`, the same for every run so that a seed reproduces a run exactly.
    `access_token_ttl` and every other duration are in simulated seconds.
    """

    seed: int = 1
    scenario: Scenario = "steady"
    speed: float = DEFAULT_SPEED
    qps: float = 50.0
    webhook_url: str | None = None
    truth_file: Path | str | None = None
    app_key: str = DEFAULT_APP_KEY
    app_secret: str = DEFAULT_APP_SECRET
    service_id: str = DEFAULT_SERVICE_ID
    shops: int = 1
    products: int = 40
    access_token_ttl: float = 7 * 86_400.0
    refresh_token_ttl: float = 365 * 86_400.0
    start_time: float | None = None
    orders_per_hour: float = 8.0
    #: The viral scenario's orders per hour at the peak of its wave (60: a small shop's).
    viral_peak_orders_per_hour: float = 60.0
    #: The first shop's id instead of a drawn one (a benchmark points the sandbox at a shop
    #: already in a store file); the draws are the same either way, so the rest is unchanged.
    shop_id: str | None = None
    ticker_interval: float = 0.1

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(
                f"unknown scenario {self.scenario!r}: use one of {', '.join(SCENARIOS)}"
            )
        if self.speed < 0:
            raise ValueError("speed must not be negative")
        if self.shops < 1 or self.products < 1:
            raise ValueError("shops and products must be at least 1")

    @property
    def epoch(self) -> float:
        """The simulated time at which the run starts."""
        return DEFAULT_START_TIME if self.start_time is None else float(self.start_time)
