# Two commands set up and run everything on a fresh machine:
#   make study   # create .venv if missing, then run every notebook of the toy tier (TIER=smoke|toy|paper)
#   make test    # create .venv if missing, then run the unit and smoke tests
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
TIER   ?= toy
STAMP  := $(VENV)/.installed

.PHONY: study test lab notebooks venv clean-runs

$(STAMP): requirements.txt constraints.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	$(BIN)/python -m pip install --quiet --no-deps -e . -c constraints.txt
	touch $(STAMP)

venv: $(STAMP)

study: $(STAMP)
	$(BIN)/python -m stepwiser_core.run all --params params/$(TIER)

test: $(STAMP)
	$(BIN)/python -m pytest

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

notebooks: $(STAMP)
	$(BIN)/python tools/nbbuild.py

clean-runs:
	rm -rf runs/
