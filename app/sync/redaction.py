"""Secret redaction for log output, as the layers above sync see it.

The one redactor lives with the protocol in `app.tiktok.redact` (it knows which names and
values are secrets); the UI reaches it through here because `app/ui` may only import sync.
"""

from __future__ import annotations

from app.tiktok.redact import install_redaction, redact

__all__ = ["install_redaction", "redact"]
