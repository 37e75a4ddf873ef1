# ViralStock developer commands. `make run` and `make test` are all a new user needs.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test bench soak lint package relay sandbox venv clean

# Finds a Python >= 3.12 (PySide6 6.12 crashes on 3.11): $PYTHON, then python3.12/3.13/3.14/python3
# on PATH, then any pyenv-installed 3.12+ version.
$(STAMP): pyproject.toml
	@py=""; for c in $$PYTHON python3.12 python3.13 python3.14 python3 \
	    $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V); do \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then py=$$c; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "ViralStock needs Python 3.12 or newer; set PYTHON=/path/to/python3.12" >&2; exit 1; fi; \
	echo "Creating $(VENV) with $$py ($$($$py --version))"; \
	"$$py" -m venv $(VENV) && $(PY) -m pip install -q --upgrade pip && \
	$(PY) -m pip install -q -e '.[desktop,relay,dev]' && touch $@

venv: $(STAMP)

run: $(STAMP)
	$(VENV)/bin/viralstock --demo

# Tests and benchmarks run Qt offscreen: no display needed, and deterministic rendering.
test bench soak: export QT_QPA_PLATFORM ?= offscreen
test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) -m tests.benchmarks

# Ten minutes of the live demo under a scripted seller, with a 2 s GUI-stall watchdog (#19).
soak: $(STAMP)
	$(PY) -m tests.soak --seconds $${SOAK_SECONDS:-600}

lint: $(STAMP)
	$(VENV)/bin/ruff check app relay tests
	$(VENV)/bin/ruff format --check app relay tests
	$(VENV)/bin/mypy

# The onedir bundle dist/ViralStock/ plus a tarball of it; prints the unpacked size.
package: $(STAMP)
	$(PY) -m PyInstaller --noconfirm --clean packaging/viralstock.spec
	@version=$$($(PY) -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])'); \
	tar -C dist -czf dist/ViralStock-$$version-linux-$$(uname -m).tar.gz ViralStock && \
	echo "bundle: $$(du -sm dist/ViralStock | cut -f1) MB unpacked (target < 180 MB); tarball: $$(du -sm dist/ViralStock-$$version-linux-$$(uname -m).tar.gz | cut -f1) MB"

# `make relay` and `make sandbox` form a local pair: the sandbox sends its webhooks to the relay,
# and the relay talks to the sandbox instead of TikTok. Without your own credentials in the
# environment both use the sandbox's public demo app (never a real secret).
DEMO_APP_KEY := 6a1b2c3d4e5f6
DEMO_APP_SECRET := sandbox-demo-secret-0b7f3c9e1d2a4f68
relay: export VIRALSTOCK_RELAY_APP_KEY ?= $(DEMO_APP_KEY)
relay: export VIRALSTOCK_RELAY_APP_SECRET ?= $(DEMO_APP_SECRET)
relay: export VIRALSTOCK_RELAY_TIKTOK_API ?= http://127.0.0.1:8686
relay: export VIRALSTOCK_RELAY_TIKTOK_AUTH ?= http://127.0.0.1:8686
relay: $(STAMP)
	$(VENV)/bin/viralstock-relay serve --host 127.0.0.1 --port 8787 --db relay.sqlite3

sandbox: export VIRALSTOCK_SANDBOX_APP_KEY ?= $(DEMO_APP_KEY)
sandbox: export VIRALSTOCK_SANDBOX_APP_SECRET ?= $(DEMO_APP_SECRET)
sandbox: $(STAMP)
	$(VENV)/bin/viralstock-sandbox --port 8686 --scenario viral \
	  --webhook-url http://127.0.0.1:8787/webhooks/tiktok

clean:
	rm -rf $(VENV) build dist .mypy_cache .ruff_cache
