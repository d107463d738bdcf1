# The two commands of the contract: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# The Yandex Cloud Pulumi program has a virtualenv of its own (Pulumi.yaml); its tests use it.
DEPLOY_VENV := deploy/yandex-cloud/venv
PORT ?= 8000
# make run uses the embedded defaults: no DEBUG, and the keys are generated under var/
# on the first start (parseq/embedded.py), so no SECRET_KEY is needed either.

.PHONY: run test lint format bench clean

$(VENV)/.run-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev-installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@ $(VENV)/.run-installed

$(DEPLOY_VENV)/.installed: deploy/yandex-cloud/requirements.txt
	test -x $(DEPLOY_VENV)/bin/python || $(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r deploy/yandex-cloud/requirements.txt
	touch $@

run: $(VENV)/.run-installed
	$(PY) manage.py migrate --no-input
	$(PY) manage.py collectstatic --no-input -v0
	$(PY) manage.py ensureadmin
	$(PY) manage.py loaddemo
	PORT=$(PORT) exec $(PY) manage.py runall

test: $(VENV)/.dev-installed $(DEPLOY_VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache
	$(VENV)/bin/pytest

lint: $(VENV)/.dev-installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.dev-installed
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: $(VENV)/.dev-installed
	$(PY) -m bench

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) var staticfiles
