"""`python -m app.sandbox` runs the `viralstock-sandbox` command."""

from __future__ import annotations

import sys

from app.sandbox.cli import main

sys.exit(main())
