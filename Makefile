# A thin front for meson + ninja: the README's commands, and the set-up a
# fresh Debian 12 machine needs. `make help` lists the targets.

PYTHON ?= /usr/bin/python3
# pytest and the apt-installed test apps live in Debian's interpreter.
PYTEST_PYTHON ?= /usr/bin/python3
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz
FUZZ_SECONDS ?= 30
# make test's fuzz smoke: each target replays its corpus, then fuzzes this
# long (enough to show it runs; make fuzz is the fuzzing)
FUZZ_SMOKE_SECONDS ?= 5
FUZZ_TARGETS = head chunked proxy ws

# What the build and the tests need from Debian.
DEBS = meson ninja-build python3-dev python3-pytest python3-mesonpy \
       python3-pip python3-venv clang libclang-rt-14-dev cppcheck clang-tidy \
       python3-flask python3-django python3-pastedeploy python3-pyramid \
       python3-uvloop python3-starlette python3-fastapi python3-quart \
       python3-pythonjsonlogger python3-uvicorn python3-gunicorn \
       libssl-dev openssl curl testssl.sh python3-websockets chromium \
       slowhttptest haproxy nginx-light python3-gevent python3-eventlet \
       libnghttp2-dev nghttp2-client python3-h2 python3-tornado zlib1g-dev
# What `make bench` compares against, and drives the load with.
BENCH_DEBS = wrk gunicorn uwsgi uwsgi-plugin-python3 nginx-light uvicorn \
             python3-httptools python3-djangorestframework libev-dev git
# Not in Debian: bjoern, built by `make bench-bjoern` (on libev-dev), and
# Gunicorn 26.1, run from its source (`make bench-gunicorn26`). The
# benchmarks skip either when absent, saying which target makes it.
BJOERN ?= /tmp/bjoern-3.2.2
GUNICORN26 ?= /tmp/g26
export BJOERN
# make bench QUICK=1: bench/realapps.py in its two-minute mode
QUICK ?=
SUDO = $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: all help deps build test test-c test-asan test-fuzz test-py run settings-md \
        bench fuzz fuzz-long clean check-pythons lint bench-deps install-debs \
        bench-bjoern bench-gunicorn26

all: build

help:
	@echo "make run        serve examples/hello.py on http://127.0.0.1:8000"
	@echo "make test       build, then every test (C, ASan+UBSan, fuzz smoke of"
	@echo "                FUZZ_SMOKE_SECONDS (default 5) each, pytest)"
	@echo "make build      build the extension, the C tests and the benchmarks"
	@echo "make bench      run the benchmarks (parser; wrk vs Gunicorn, uWSGI, bjoern, nginx;"
	@echo "                gthread's threads; real apps, memory); QUICK=1 for the two-minute"
	@echo "                real-app run"
	@echo "make fuzz       fuzz each target for FUZZ_SECONDS (default 30)"
	@echo "make lint       cppcheck and clang-tidy over every C file"
	@echo "make settings-md  rewrite docs/settings.md from the settings table"
	@echo "make deps       install what Debian 12 lacks (apt-get, as root)"
	@echo "PYTHON=...      the interpreter to build for (default /usr/bin/python3)"

# Installs missing packages when root; otherwise prints the command to run.
deps:
	@$(MAKE) --no-print-directory install-debs PKGS="$(DEBS)"

bench-deps:
	@$(MAKE) --no-print-directory install-debs PKGS="$(BENCH_DEBS)"

install-debs:
	@missing=$$(for p in $(PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:" $$missing; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing) || exit 1; \
	  else \
	    echo "missing Debian packages; run:"; \
	    echo "  sudo apt-get install -y" $$missing; exit 1; \
	  fi; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dpython=$(PYTHON)

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)
	@echo $(PYTHON) > $(BUILD)/.python

test: build lint test-c test-asan test-fuzz test-py

test-c: build
	meson test -C $(BUILD) --print-errorlogs

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Dextension=false -Dbuildtype=debug \
	  -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all

test-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  meson test -C $(ASAN_BUILD) --print-errorlogs

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dbuildtype=debugoptimized \
	  -Db_sanitize=address,undefined -Db_lundef=false \
	  -Dc_args=-fno-sanitize-recover=all

# Each target: replay its committed corpus, then fuzz for FUZZ_SECONDS.
# New inputs go to a scratch directory, never into fuzz/corpus/. Only the
# fuzz targets are built (the C tests there would be built for nothing).
fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) $(FUZZ_TARGETS:%=fuzz_%)
	@for t in $(FUZZ_TARGETS); do \
	  scratch=$$(mktemp -d); \
	  echo "fuzz_$$t: $(FUZZ_SECONDS) s"; \
	  $(FUZZ_BUILD)/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 \
	    -dict=fuzz/http.dict -artifact_prefix=$(FUZZ_BUILD)/crash-$$t- \
	    $$scratch fuzz/corpus/$$t 2>$(FUZZ_BUILD)/fuzz_$$t.log \
	    || { tail -40 $(FUZZ_BUILD)/fuzz_$$t.log; rm -rf $$scratch; exit 1; }; \
	  grep -E 'stat::number_of_executed_units|Done' $(FUZZ_BUILD)/fuzz_$$t.log | tail -2; \
	  rm -rf $$scratch; \
	done

test-fuzz:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=$(FUZZ_SMOKE_SECONDS)

fuzz-long:
	$(MAKE) fuzz FUZZ_SECONDS=1800

settings-md: build
	ninja -C $(BUILD) settings-md

test-py: build
	$(PYTEST_PYTHON) -m pytest -q tests/python

run: build
	./cunicorn --bind 127.0.0.1:8000 --chdir examples hello:app

bench: build bench-deps
	$(BUILD)/bench_parser
	$(PYTEST_PYTHON) bench/http.py --gunicorn26 $(GUNICORN26)
	$(PYTEST_PYTHON) bench/threads.py
	$(PYTEST_PYTHON) bench/realapps.py $(if $(QUICK),--quick) --gunicorn26 $(GUNICORN26)
	$(PYTEST_PYTHON) bench/memory.py
	$(PYTEST_PYTHON) bench/green.py
	$(PYTEST_PYTHON) bench/logs.py

# bjoern 3.2.2 with its http-parser submodule, built against Debian's
# libev-dev into $(BJOERN) (bench/README.md).
bench-bjoern:
	rm -rf $(BJOERN)-src
	git clone --quiet --depth 1 --branch 3.2.2 --recurse-submodules \
	    --shallow-submodules https://github.com/jonashaag/bjoern $(BJOERN)-src
	$(PYTEST_PYTHON) -m pip install --no-build-isolation --no-deps \
	    --target $(BJOERN) $(BJOERN)-src

# Gunicorn 26.1's source, which the benchmarks run with Debian's Python.
bench-gunicorn26:
	test -d $(GUNICORN26) || git clone --quiet --depth 1 --branch 26.1.0 \
	    https://github.com/benoitc/gunicorn $(GUNICORN26)

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

# Builds the extension for every pyenv interpreter from 3.9 on and runs
# ./cunicorn --version with each (not part of `make test`: CI has no pyenv).
check-pythons:
	@for py in $$(ls -d $$HOME/.pyenv/versions/3.*/bin/python3 2>/dev/null | sort -V); do \
	  v=$$($$py -c 'import sys; print("%d.%d" % sys.version_info[:2])'); \
	  case $$v in 3.[0-8]) continue;; esac; \
	  b=build-py$$v; \
	  { [ -f $$b/build.ninja ] || meson setup $$b -Dpython=$$py >/dev/null; } && \
	  ninja -C $$b >/dev/null && echo $$py > $$b/.python && \
	  printf '%s: %s\n' "$$v" "$$(CUNICORN_BUILD_DIR=$(CURDIR)/$$b ./cunicorn --version)" || exit 1; \
	done

# Static analysis of every C file: cppcheck and clang-tidy (Debian's; the
# checks are in .clang-tidy, and their warnings are errors). A header is
# checked through the files that include it: clang-tidy's --header-filter
# takes every header but the system's and Python's.
#   PLAIN_C  the server in plain C: no Python
#   PY_C     the files that include Python.h (through host.h, wsgi.h, ...)
#   TEST_C   the C tests and their library, the fuzz targets, the benchmark,
#            the tools (tools/settings_md.c writes docs/settings.md)
# cppcheck gets no Python headers (Debian's pyconfig.h is a multiarch wrapper
# it cannot follow, and Python.h needs the system headers): --library=python
# describes the C API to it instead. clang-tidy follows them; -isystem keeps
# Python's own headers out of its report. $(BUILD) holds the generated
# cu_version.h (meson setup writes it); the tests also get -Itests, where
# their shared headers (lib/tap.h, ...) live.
PY_C = $(wildcard src/host/*.c src/wsgi/*.c src/asgi/*.c)
PLAIN_C = $(filter-out $(PY_C),$(wildcard src/*/*.c))
TEST_C = $(wildcard tests/*/*.c fuzz/*.c bench/*.c tools/*.c)
# A C file in none of the three (a new folder, say) fails the lint.
LINT_MISSED = $(filter-out $(PLAIN_C) $(PY_C) $(TEST_C), \
                $(shell find src tests fuzz bench tools -name '*.c'))
PY_INCLUDE = $(shell $(PYTHON) -c \
               'import sysconfig; print(sysconfig.get_paths()["include"])')
CPPCHECK = cppcheck --quiet --error-exitcode=1 --enable=warning,portability \
           --inline-suppr -D__SSE2__
CLANG_TIDY = clang-tidy --quiet --header-filter='.*'
TIDY_C = -std=c11 -D_GNU_SOURCE

lint: deps $(BUILD)/build.ninja
	@if [ -n "$(strip $(LINT_MISSED))" ]; then \
	  echo "lint: in none of PLAIN_C, PY_C, TEST_C:" $(LINT_MISSED); exit 1; fi
	$(CPPCHECK) -Isrc $(PLAIN_C)
	$(CPPCHECK) --library=python --library=posix -Isrc -I$(BUILD) $(PY_C)
	$(CPPCHECK) -Isrc -Itests $(TEST_C)
	$(CLANG_TIDY) $(PLAIN_C) -- $(TIDY_C) -Isrc
	$(CLANG_TIDY) $(PY_C) -- $(TIDY_C) -Isrc -I$(BUILD) -isystem $(PY_INCLUDE)
	$(CLANG_TIDY) $(TEST_C) -- $(TIDY_C) -Isrc -Itests
