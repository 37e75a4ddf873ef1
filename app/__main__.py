"""`python -m app` runs ViralStock like the `viralstock` command."""

from __future__ import annotations

import sys

from app.main import main

sys.exit(main())
