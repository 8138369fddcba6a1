# The two commands:  `make run` (the whole platform)  and  `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
export DJANGO_SETTINGS_MODULE := aggregator.settings

.PHONY: install run test lint migrate clean

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	scripts/system-deps.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# Web (gunicorn on 127.0.0.1:8000), a Celery worker and beat, on whatever the
# environment configures (embedded defaults when nothing is set).
run: install
	@scripts/run.sh

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff format --check . && $(BIN)/ruff check .

clean:
	rm -rf $(VENV) var staticfiles
