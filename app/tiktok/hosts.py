"""TikTok Shop's hosts, in one place (tiktok-shop-api.md section 2).

Every default that points at TikTok comes from here: the API client, the token exchange, the
desktop's connect settings, the composition root and the relay. Tests and the demo point the
same settings at the sandbox instead.
"""

from __future__ import annotations

__all__ = ["AUTHORIZE_URL", "AUTH_BASE_URL", "OPEN_API_BASE_URL"]

#: The Open API gateway (signed calls).
OPEN_API_BASE_URL = "https://open-api.tiktokglobalshop.com"
#: The auth host: `/api/v2/token/get` and `/api/v2/token/refresh`.
AUTH_BASE_URL = "https://auth.tiktok-shops.com"
#: The seller's consent page (the US has its own host, tiktok-shop-api.md 2.1).
AUTHORIZE_URL = "https://services.tiktokshop.com/open/authorize"
