"""Builds the seeded catalog: shops, warehouses, products, SKUs and videos.

Everything comes from `random.Random` seeded with a string derived from the run's seed (string
seeds hash with SHA-512, so they do not depend on PYTHONHASHSEED): one seed, one catalog.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, replace
from decimal import Decimal

from app.sandbox.config import SandboxConfig
from app.sandbox.state import ProductState, ShopState, SkuState, VideoState, Warehouse

__all__ = ["Catalog", "ViralPlan", "build_catalog"]

_ADJECTIVES = [
    "Glow", "Cloud", "Velvet", "Aurora", "Cozy", "Mini", "Ultra", "Pocket", "Silk", "Frost",
    "Sunset", "Magnetic", "Crystal", "Bamboo", "Neon", "Cotton", "Zen", "Turbo", "Pastel", "Retro",
]  # fmt: skip
_NOUNS = [
    "Lip Oil", "Hoodie", "LED Strip", "Water Bottle", "Phone Grip", "Face Serum", "Yoga Mat",
    "Hair Clip Set", "Desk Lamp", "Tote Bag", "Sneaker Cleaner", "Scrunchie Pack", "Mug",
    "Blender Bottle", "Ring Light", "Sleep Mask", "Lash Serum", "Cargo Pants", "Candle",
    "Mini Fan", "Car Vacuum", "Jade Roller", "Bucket Hat", "Phone Case",
]  # fmt: skip
_VARIANTS = [
    ["Black", "White", "Pink", "Sage", "Blue"],
    ["S", "M", "L", "XL"],
    ["Original", "Rose", "Vanilla", "Mint"],
    ["1-Pack", "3-Pack", "6-Pack"],
]
_CREATORS = ["glowwithmia", "dealsbyjay", "homehacks.k", "fitfam.rae", "techtok.leo", "momfinds"]


@dataclass
class ViralPlan:
    """Which video goes viral and when (simulated epoch seconds)."""

    shop_id: str
    video_id: str
    product_id: str
    sku_ids: list[str]
    sku_weights: list[float]
    onset: float
    midpoint: float
    tau: float
    max_views: float
    peak_orders_per_hour: float
    # "logistic" (the viral scenario's S-curve) or a shape of `app.sandbox.curves.SHAPES`,
    # its parameters in hours since the onset.
    shape: str = "logistic"
    params: tuple[float, ...] = ()


@dataclass
class Catalog:
    shops: list[ShopState]
    products: dict[str, ProductState]
    skus: dict[str, SkuState]
    videos: dict[str, VideoState]
    viral: ViralPlan | None


def _digits(rng: random.Random, prefix: str, length: int = 19) -> str:
    return prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix)))


def _cipher(rng: random.Random) -> str:
    alphabet = string.ascii_letters + string.digits + "-_"
    return "GCP_" + "".join(rng.choice(alphabet) for _ in range(32))


def build_catalog(config: SandboxConfig) -> Catalog:
    rng = random.Random(f"viralstock-sandbox:{config.seed}:catalog")
    start = int(config.epoch)
    shops: list[ShopState] = []
    products: dict[str, ProductState] = {}
    skus: dict[str, SkuState] = {}
    videos: dict[str, VideoState] = {}
    viral: ViralPlan | None = None
    for shop_index in range(config.shops):
        warehouses = [
            Warehouse(id=_digits(rng, "73"), name=f"Warehouse {chr(ord('A') + i)}")
            for i in range(rng.randint(1, 3))
        ]
        drawn = _digits(rng, "7495")
        shop = ShopState(
            id=config.shop_id if shop_index == 0 and config.shop_id else drawn,
            name=f"{rng.choice(_ADJECTIVES)} Goods {shop_index + 1}",
            region="US",
            cipher=_cipher(rng),
            code="US" + "".join(rng.choice(string.ascii_uppercase) for _ in range(8)),
            seller_type="LOCAL",
            warehouses=warehouses,
        )
        shops.append(shop)
        shop_products: list[ProductState] = []
        for _ in range(config.products):
            created = start - rng.randint(20, 400) * 86_400
            product = ProductState(
                id=_digits(rng, "1729"),
                shop_id=shop.id,
                title=f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}",
                status="ACTIVATE",
                create_time=created,
                update_time=created + rng.randint(0, 10 * 86_400),
                sku_ids=[],
            )
            variants = rng.choice(_VARIANTS)
            count = min(len(variants), rng.choice([1, 2, 3, 3, 4, 5]))
            base_price = Decimal(rng.randint(599, 7999)) / 100
            popularity = rng.lognormvariate(0.0, 0.9)
            for variant in variants[:count]:
                stock_level = rng.choice([8, 15, 40, 80, 150, 300])
                available: dict[str, int] = {}
                for index, warehouse in enumerate(warehouses):
                    share = stock_level if index == 0 else rng.randint(0, stock_level // 2)
                    available[warehouse.id] = share + rng.randint(0, 10)
                sku = SkuState(
                    id=_digits(rng, "1729"),
                    product_id=product.id,
                    shop_id=shop.id,
                    seller_sku=f"VS-{len(skus) + 1:04d}",
                    name=variant,
                    price=base_price,
                    available=available,
                    committed={warehouse.id: 0 for warehouse in warehouses},
                    popularity=popularity * rng.uniform(0.5, 1.5),
                )
                skus[sku.id] = sku
                product.sku_ids.append(sku.id)
            products[product.id] = product
            shop_products.append(product)
        for index in range(min(8, len(shop_products))):
            product = shop_products[rng.randrange(len(shop_products))]
            post = start - rng.randint(1, 20) * 86_400
            video = VideoState(
                id=_digits(rng, "7380"),
                shop_id=shop.id,
                title=f"{product.title} review #{index + 1}",
                username=rng.choice(_CREATORS),
                product_id=product.id,
                post_time=post,
                base_views=rng.randint(2_000, 80_000),
                views_per_second=rng.uniform(0.01, 0.3),
            )
            videos[video.id] = video
        if config.scenario != "steady" and shop_index == 0:
            viral = _plan_viral(rng, shop, shop_products, skus, videos, float(start))
            viral = replace(viral, peak_orders_per_hour=config.viral_peak_orders_per_hour)
            if config.scenario != "viral":
                viral.shape = config.scenario
                viral.params = SHAPE_PARAMS[config.scenario]
    return Catalog(shops=shops, products=products, skus=skus, videos=videos, viral=viral)


# Scenario shapes (hours since the onset), sized so the hottest SKU sells out hours into the
# surge as in the viral scenario: log-normal with a long tail, gamma, a 3-hour live-stream
# plateau, a power-law decay, a fast start that fizzles.
SHAPE_PARAMS: dict[str, tuple[float, ...]] = {
    "lognormal": (1.2, 1.0),
    "gamma": (3.0, 1.0),
    "plateau": (3.0, 0.4),
    "powerlaw": (1.0, 1.8),
    "fizzle": (0.3, 1.2),
}


def _plan_viral(
    rng: random.Random,
    shop: ShopState,
    shop_products: list[ProductState],
    skus: dict[str, SkuState],
    videos: dict[str, VideoState],
    start: float,
) -> ViralPlan:
    """One multi-SKU product gets a fresh video that takes off one simulated hour in."""
    candidates = [p for p in shop_products if len(p.sku_ids) >= 2] or shop_products
    product = candidates[rng.randrange(len(candidates))]
    sku_ids = product.sku_ids[:3]
    # Stock sized so that the hottest SKU sells out a few hours after take-off.
    for sku_id, units in zip(sku_ids, (80, 140, 220), strict=False):
        sku = skus[sku_id]
        first = next(iter(sku.available))
        sku.available = {wid: (units if wid == first else 0) for wid in sku.available}
    weights = [0.55, 0.3, 0.15][: len(sku_ids)]
    video = VideoState(
        id=_digits(rng, "7380"),
        shop_id=shop.id,
        title=f"{product.title} - this changed my routine",
        username="glowwithmia",
        product_id=product.id,
        post_time=int(start) + 1_800,
        base_views=0,
        views_per_second=0.05,
        viral=True,
    )
    videos[video.id] = video
    onset = start + 3_600.0
    return ViralPlan(
        shop_id=shop.id,
        video_id=video.id,
        product_id=product.id,
        sku_ids=sku_ids,
        sku_weights=weights,
        onset=onset,
        midpoint=onset + 3.5 * 3_600.0,
        tau=3_600.0,
        max_views=2_000_000.0,
        peak_orders_per_hour=60.0,
    )
