# The two commands of the README: `make run` and `make test`. Everything else is a helper of theirs.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PORT ?= 8000
export DJANGO_SETTINGS_MODULE ?= healthmentor.settings

.PHONY: run test install lint lock check-deploy seed clean compose-config chromium proof

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

$(STAMP): requirements.lock | $(BIN)/python
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	touch $(STAMP)

install: $(STAMP)

# Re-pin requirements.lock from pyproject.toml (run after changing dependencies).
lock: | $(BIN)/python
	$(BIN)/uv pip compile --quiet --python-version 3.11 --extra dev pyproject.toml -o requirements.lock

# Laptop mode: SQLite, embedded defaults, demo data, web + a real Celery worker + beat.
run: export DJANGO_DEBUG ?= true
run: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/python manage.py train_risk_models --if-missing
	$(BIN)/python manage.py train_imaging_models --if-missing
	$(BIN)/python manage.py seed_demo
	$(BIN)/python manage.py seed_risk_demo
	$(BIN)/python manage.py seed_imaging_demo
	$(BIN)/python manage.py train_benefit_models --if-missing
	$(BIN)/python manage.py refresh_recommendations --only-missing
	$(BIN)/python -m healthmentor.devserver --port $(PORT)

# The browser tests drive Debian's chromium; install it when we may (root or passwordless sudo).
chromium:
	@test -x /usr/bin/chromium || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "chromium is missing and cannot be installed without root: apt-get install chromium"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium; }

# pytest-django prefers DJANGO_SETTINGS_MODULE from the environment to pyproject's: pin it here.
test: export DJANGO_SETTINGS_MODULE = healthmentor.test_settings
test: $(STAMP) chromium
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/lint-imports
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

check-deploy: $(STAMP)
	DJANGO_DEBUG=false DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets;print(secrets.token_urlsafe(64))') \
	PHI_ENCRYPTION_KEYS=$$($(BIN)/python -c 'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())') \
	PHI_BLIND_INDEX_KEY=$$($(BIN)/python -c 'import secrets;print(secrets.token_urlsafe(32))') \
	DJANGO_ALLOWED_HOSTS=portal.example.org \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

# Validates docker-compose.yml (needs a .env: `cp .env.example .env`). Falls back to the v1
# `docker-compose` where the compose v2 plugin is missing.
compose-config:
	@test -f .env || { echo "No .env: cp .env.example .env"; exit 1; }
	@if docker compose version >/dev/null 2>&1; then docker compose config --quiet; \
	else docker-compose config --quiet; fi
	@echo "docker-compose.yml is valid"

clean:
	rm -rf $(VENV) var db.sqlite3

# The long proofs (minutes; their own PostgreSQL and Redis on free ports): fault drills, the
# backup/restore drill, PHI canaries and the API load bench. Each prints a JSON last line.
proof: $(STAMP)
	$(BIN)/python -m proof.drills
	$(BIN)/python -m proof.backup_drill
	$(BIN)/python -m proof.canaries
	$(BIN)/python bench/api_load.py
