"""Entry point PyInstaller freezes: the same `main()` the `viralstock` console script runs."""

import sys

from app.main import main

if __name__ == "__main__":
    sys.exit(main())
