# GradProof: `make run` serves the app with demo data, `make test` runs the suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000
FLASK  := $(BIN)/flask --app app

.PHONY: run worker dev test lint format translations init-db send-mail bench clean

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements.txt requirements-dev.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $(VENV)/.installed $@

# Compiled catalogs are build output (not in git): rebuilt when a .po changes.
MO_FILES := $(patsubst %.po,%.mo,$(wildcard translations/*/LC_MESSAGES/messages.po))
translations/%.mo: translations/%.po
	$(BIN)/pybabel compile --use-fuzzy -i $< -o $@ 2>/dev/null || $(BIN)/pybabel compile -i $< -o $@

# Personal data lives in instance/: private to the user running the app.
instance/config.py:
	umask 077; mkdir -p instance
	umask 077; $(BIN)/python -c "import secrets; print('SECRET_KEY = %r' % secrets.token_hex(32))" > $@
	@echo "created $@ with a new random SECRET_KEY (keep it, back it up)"

init-db: $(VENV)/.installed $(MO_FILES) instance/config.py
	umask 077; $(FLASK) init-db
	@if [ "$${FLASK_DEMO:-true}" != "false" ]; then umask 077; $(FLASK) seed-demo --if-empty; fi

# Plain HTTP on loopback in a browser needs non-Secure cookies; behind an
# HTTPS proxy set FLASK_SESSION_COOKIE_SECURE=true (see README).
# The web server and one queue consumer (Procfile), together under honcho:
# Ctrl-C stops both.
run: init-db
	@echo "GradProof on http://$(HOST):$(PORT)/  (mail: $${FLASK_MAIL_SERVER:-console, printed below})"
	umask 077; HOST=$(HOST) \
	FLASK_SESSION_COOKIE_SECURE=$${FLASK_SESSION_COOKIE_SECURE:-false} \
	FLASK_REMEMBER_COOKIE_SECURE=$${FLASK_REMEMBER_COOKIE_SECURE:-false} \
	$(BIN)/honcho start -f Procfile -p $(PORT)

# A queue consumer alone (mail, imports, periodic duties), e.g. on a second server.
worker: init-db
	$(FLASK) worker

dev: init-db
	umask 077; $(FLASK) --debug run --host $(HOST) --port $(PORT)

# The whole suite on SQLite, then again on PostgreSQL when its server answers
# (TEST_DATABASE_URL, default postgresql://127.0.0.1:5432/; a fresh database
# per run and worker, dropped afterwards). REQUIRE_POSTGRES=1 (CI) makes an
# unreachable server an error. TEST_WORKERS=0 runs in one process.
# Bytecode is cached (__pycache__/, git-ignored) even where the environment
# sets PYTHONDONTWRITEBYTECODE: the suite starts two workers and some twenty
# Python processes (gunicorn, `flask worker`, memory probes) that would each
# compile the app again (about 1.3 s of CPU apiece). See docs/TESTING.md.
# Temporary files (each test's database copy, photos and demo copies,
# Chromium's profiles) go to memory where /dev/shm is writable: creating a
# file there took 0.015 ms against 0.38 ms on an ext4 /tmp, and a SQLite
# pass 73 s instead of 76-78 s. TEST_TMPDIR= (empty) keeps the system's
# temporary folder. Passing tests' folders are deleted as they finish
# (tmp_path_retention_policy in pyproject.toml): a whole `make test` held
# at most about 100 MB there.
TEST_TMPDIR ?= $(shell test -d /dev/shm -a -w /dev/shm && echo /dev/shm)
TEST_WORKERS ?= 2
PYTEST := PYTHONDONTWRITEBYTECODE= $(if $(TEST_TMPDIR),TMPDIR=$(TEST_TMPDIR)) \
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup
test: $(VENV)/.installed-dev $(MO_FILES)
	$(PYTEST) --database sqlite $(PYTEST_ARGS)
	@if $(BIN)/python -m tests.pgcheck; then \
	  echo "== the suite again on PostgreSQL"; \
	  $(PYTEST) --database postgres $(PYTEST_ARGS); \
	elif [ -n "$${REQUIRE_POSTGRES:-}" ]; then \
	  echo "REQUIRE_POSTGRES is set: failing"; exit 1; \
	else \
	  echo "== PostgreSQL suite skipped (SQLite only); CI runs both"; \
	fi

# The format check comes last: a file that only needs `make format` still
# gets its real problems reported first.
lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Refresh the catalogs after changing user-facing strings.
translations: $(VENV)/.installed-dev
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -k lazy_pgettext:1c,2 -o translations/messages.pot --no-location --sort-output --ignore-dirs='.* _* tests bench instance' .
	$(BIN)/pybabel update -i translations/messages.pot -d translations --no-fuzzy-matching --ignore-obsolete

send-mail: $(VENV)/.installed
	$(FLASK) send-mail --loop

bench: $(VENV)/.installed-dev
	$(BIN)/python bench/run_all.py

# Lighthouse 12.2.3 (npm) with the system Chromium on /register, /login and
# the record page; scores in reports/lighthouse.json.
LIGHTHOUSE_BIN := .lighthouse/node_modules/.bin/lighthouse
$(LIGHTHOUSE_BIN):
	npm install --prefix .lighthouse --no-audit --no-fund --silent lighthouse@12.2.3

lighthouse: $(VENV)/.installed-dev $(MO_FILES) $(LIGHTHOUSE_BIN)
	CHROME_PATH=$${CHROME_PATH:-/usr/bin/chromium} $(BIN)/python bench/lighthouse.py

clean:
	rm -rf $(VENV) translations/*/LC_MESSAGES/*.mo
