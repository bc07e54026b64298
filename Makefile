# Two commands do everything on a fresh clone: `make demo` and `make test`.
# Both create the virtual environment (.venv) first if it is missing. No network beyond PyPI.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
# real data lives beside the checkout (see ../shared/data); override with XLT_DATA_DIR
export XLT_DATA_DIR ?= $(abspath ../shared/data)

.PHONY: setup demo test bench-fidelity clean

$(BIN)/xlt: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[test]"
	touch $(BIN)/xlt

setup: $(BIN)/xlt

demo: $(BIN)/xlt
	$(BIN)/xlt demo --output runs/demo

test: $(BIN)/xlt
	$(BIN)/python -m pytest -q tests

bench-fidelity: $(BIN)/xlt
	$(BIN)/python bench/fidelity.py

clean:
	rm -rf $(VENV) runs
