# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel this machine's pip offers; GPU nodes install a CUDA build instead (see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: install chromium test lint demo benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[test,vowels]'
	touch $@

# Headless Chromium for PNG/SVG export (kaleido) and the browser tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium (headless export and browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

lint: install
	$(BIN)/ruff check study tests benchmarks

test: install chromium
	$(BIN)/ruff check study tests benchmarks
	$(BIN)/pytest -q

demo: install chromium
	$(BIN)/study demo

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
