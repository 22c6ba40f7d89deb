# Two commands do all the set-up: `make demo` and `make test`.
# Each creates .venv on first use and reinstalls only when pyproject.toml changes.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test fuzz-large learning-large install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/memlab demo

test: $(STAMP)
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

fuzz-large: $(STAMP)
	MEMLAB_FUZZ_LARGE=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/fuzz -m fuzz_large

learning-large: $(STAMP)
	MEMLAB_LEARNING_LARGE=1 QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest tests/procedures -m learning_large

clean:
	rm -rf $(VENV) build *.egg-info
