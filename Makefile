# Course backend: `make run` starts the complete server, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
HOST ?= 127.0.0.1
PORT ?= 5000
# Set TEST_NETNS=0 to run the suite without the hermetic network namespace
# (the media tests then skip, saying why).
TEST_NETNS ?= 1
PYTEST_ARGS ?=
# `make grade`: the last module to grade, the server's URL (empty: this repository's code
# in-process, inside the hermetic namespace like `make test`) and extra grader options.
# The grader reads the server's tokens from COURSE_ADMIN_TOKEN and COURSE_TURN_SECRET.
MODULE ?= 3
BASE_URL ?=
GRADE_ARGS ?=
# `make fuzz`: generated cases per API operation and generation mode (valid, invalid)
# for each Janus setup. 250 sends more than 5,000 requests in all; `make test` uses 10.
FUZZ_MAX_EXAMPLES ?= 250

.PHONY: run test grade fuzz bench venv translations janus-local clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(STAMP)

translations: $(STAMP)
	@for dir in common/translations module*/translations; do \
		if [ -d "$$dir" ]; then $(BIN)/pybabel -q compile --use-fuzzy -d "$$dir" -D messages || exit 1; fi; \
	done

# Without JANUS_URL, the app talks to the Janus that janus-local starts (JANUS_HTTP_PORT, 8088 by default).
run: translations
	@mkdir -p instance
	@scripts/janus-local start || true
	JANUS_URL="$${JANUS_URL:-http://127.0.0.1:$${JANUS_HTTP_PORT:-8088}/janus}" \
		$(BIN)/flask --app module3_watch run --host $(HOST) --port $(PORT) --with-threads

test: translations
ifeq ($(TEST_NETNS),1)
	scripts/hermetic-run $(BIN)/pytest $(PYTEST_ARGS)
else
	$(BIN)/pytest $(PYTEST_ARGS)
endif

grade: translations
ifeq ($(BASE_URL),)
ifeq ($(TEST_NETNS),1)
	scripts/hermetic-run $(BIN)/python -m tests.grade --module $(MODULE) $(GRADE_ARGS)
else
	$(BIN)/python -m tests.grade --module $(MODULE) $(GRADE_ARGS)
endif
else
	$(BIN)/python -m tests.grade --module $(MODULE) --base-url $(BASE_URL) $(GRADE_ARGS)
endif

fuzz: translations
ifeq ($(TEST_NETNS),1)
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) scripts/hermetic-run $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)
else
	FUZZ_MAX_EXAMPLES=$(FUZZ_MAX_EXAMPLES) $(BIN)/pytest tests/fuzz $(PYTEST_ARGS)
endif

# The figures of docs/benchmarks.md, about 8 minutes on 2 CPUs. Janus and aiortc need the
# hermetic namespace, and the list benchmark runs there too (MariaDB on its loopback).
bench: translations
	scripts/hermetic-run $(BIN)/python bench/bench_publish.py
	scripts/hermetic-run $(BIN)/python bench/bench_load.py
	scripts/hermetic-run $(BIN)/python bench/bench_load.py --database mariadb
	scripts/hermetic-run $(BIN)/python bench/bench_ws_fanout.py
	scripts/hermetic-run $(BIN)/python bench/bench_streams.py

janus-local: $(STAMP)
	scripts/janus-local start

clean:
	rm -rf $(VENV) instance .pytest_cache
