# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

LOCK   := requirements.lock

.PHONY: run test lint install lock clean

# Reinstall only when pyproject.toml or the lock changed since the last install. Every package
# comes from the lock (exact versions, hash-checked); the project itself goes in without deps, and
# `pip check` fails if pyproject.toml asks for something the lock lacks (then run `make lock`).
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r $(LOCK)
	$(BIN)/python -m pip install -q --no-deps -e .
	$(BIN)/python -m pip check
	@touch $(STAMP)

install: $(STAMP)

# Rewrite the lock from pyproject.toml's dependencies and the dev extra. Pins already in the lock
# are kept unless pyproject.toml rules them out; `make lock LOCKFLAGS=--upgrade` moves every
# package to the newest allowed version. pip-tools lives in .venv only: `make install` needs it not.
LOCKFLAGS ?=
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q "pip-tools>=7.4,<8"
	$(BIN)/pip-compile --quiet --extra dev --generate-hashes --strip-extras --allow-unsafe \
		--no-emit-index-url --no-emit-find-links $(LOCKFLAGS) --output-file $(LOCK) pyproject.toml

run: $(STAMP)
	$(BIN)/mlops-bot run

test: $(STAMP)
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy bot handlers jobs

clean:
	rm -rf $(VENV) .mlops-bot
