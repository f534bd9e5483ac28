# splitter: one non-recursive Makefile. Output only under build/.
#
#   make            build everything (build/bin/api, worker, settle, ...)
#   make run        deps, build, start the local stack, follow the logs, stop on Ctrl-C
#   make test       deps, build, unit + static + e2e + fault tests, "N passed, M failed"
#   make e2e FILE=tests/e2e/x.test.mjs   one e2e (or tests/browser/) file against a private stack
#   make asan       unit and e2e tests under ASan+UBSan (build/asan/)
#   make chaos      one fault per test (Redis flushed or lost, a worker stopped, PostgreSQL
#                   down, a row lock, the api killed, Redis full) under a retried write load
#   make failover   the chaos load through a Redis Sentinel failover (primary killed) and a
#                   PostgreSQL promotion (primary stopped) on the local stack with replicas
#   make fuzz       every libFuzzer harness in fuzz/ for FUZZ_SECONDS (default 15) each,
#                   built by clang with ASan+UBSan into build/fuzz/, "N passed, M failed"
#   make compose-test  boot docker-compose.yml on a private Docker engine and test it (root)
#   make images     build the three images (IMAGE_REPO, IMAGE_TAG); make push pushes them
#   make kubernetes-config  copy nginx/, postgres/ and redis/ files into deploy/kubernetes/
#
# SANITIZE=1 builds into build/asan with ASan+UBSan.

SHELL := /bin/bash
.DEFAULT_GOAL := all

ifeq ($(SANITIZE),1)
BUILD ?= build/asan
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
OPT := -O1 -g
else
BUILD ?= build
SANFLAGS :=
OPT := -O2 -g
endif

CC ?= cc
PKGS := libh2o libuv hiredis jansson uuid libpq libsodium openssl
WARN := -std=gnu11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
        -Wmissing-prototypes -Wvla -Wwrite-strings -Wformat=2 -Werror
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)
CPPFLAGS += -Ishared -D_GNU_SOURCE -DH2O_USE_LIBUV=1
CFLAGS += $(WARN) $(OPT) $(SANFLAGS) -MMD -MP $(PKG_CFLAGS)
LDFLAGS += $(SANFLAGS)
LDLIBS += $(PKG_LIBS) -lm

SHARED_SRC := $(sort $(wildcard shared/*.c))
API_SRC := $(sort $(wildcard api/*.c))
WORKER_SRC := $(sort $(wildcard worker/*.c))
# tools/<name>.c is the binary <name>; tools/splitterctl/*.c (one file per subcommand) is splitterctl.
TOOL_SRC := $(sort $(wildcard tools/*.c))
CTL_SRC := $(sort $(wildcard tools/splitterctl/*.c))
UNIT_SRC := $(sort $(wildcard tests/unit/test_*.c))
BENCH_SRC := $(sort $(wildcard bench/*.c))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
SHARED_LIB := $(BUILD)/lib/libsplitter.a
API_BIN := $(BUILD)/bin/api
WORKER_BIN := $(BUILD)/bin/worker
TOOL_BINS := $(patsubst tools/%.c,$(BUILD)/bin/%,$(TOOL_SRC)) $(BUILD)/bin/splitterctl
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
ALL_OBJ := $(call obj,$(SHARED_SRC) $(API_SRC) $(WORKER_SRC) $(TOOL_SRC) $(CTL_SRC) $(UNIT_SRC) \
                      $(BENCH_SRC))


.PHONY: all bins deps run up down logs test unit static e2e faults chaos failover asan valgrind lint format \
        bench clean fuzz fuzz-bins compose-test images push kubernetes-config

all: bins
bins: $(API_BIN) $(WORKER_BIN) $(TOOL_BINS) $(UNIT_BINS) $(BENCH_BINS)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(BUILD)/obj/tests/unit/%.o: tests/unit/%.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(CHECK_CFLAGS) -c -o $@ $<

$(SHARED_LIB): $(call obj,$(SHARED_SRC))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(API_BIN): $(call obj,$(API_SRC)) $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(WORKER_BIN): $(call obj,$(WORKER_SRC)) $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/splitterctl: $(call obj,$(CTL_SRC)) $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/bin/%: $(BUILD)/obj/tools/%.o $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(CHECK_LIBS) $(LDLIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(SHARED_LIB)
	@mkdir -p $(@D)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# --- fuzzing: clang, libFuzzer, ASan+UBSan; its own objects under build/fuzz ---

FUZZ_CC ?= clang
FUZZ_DIR := build/fuzz
FUZZ_SECONDS ?= 15
FUZZ_SANITIZE := -fsanitize=address,undefined -fno-sanitize-recover=undefined \
                 -fno-omit-frame-pointer
FUZZ_SRC := $(sort $(wildcard fuzz/fuzz_*.c))
FUZZ_BINS := $(patsubst fuzz/%.c,$(FUZZ_DIR)/%,$(FUZZ_SRC))
FUZZ_OBJ := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(SHARED_SRC) $(FUZZ_SRC))
FUZZ_LIB := $(FUZZ_DIR)/lib/libsplitter.a

$(FUZZ_DIR)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(CPPFLAGS) -Ifuzz $(WARN) -O1 -g $(FUZZ_SANITIZE) -fsanitize=fuzzer-no-link \
	    -MMD -MP $(PKG_CFLAGS) -c -o $@ $<

$(FUZZ_LIB): $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(SHARED_SRC))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/%: $(FUZZ_DIR)/obj/fuzz/%.o $(FUZZ_LIB)
	$(FUZZ_CC) $(FUZZ_SANITIZE) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-bins: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory fuzz-bins
	@FUZZ_DIR=$(FUZZ_DIR) FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh

# --- set-up -----------------------------------------------------------------

deps:
	@scripts/deps.sh

# --- the local stack ----------------------------------------------------------

up: deps bins
	@scripts/stack.sh up

down:
	@scripts/stack.sh down

logs:
	@scripts/stack.sh logs

run: deps bins
	@scripts/stack.sh run

# --- tests ------------------------------------------------------------------

unit: bins
	@BUILD=$(BUILD) scripts/test.sh unit

static: deps
	@BUILD=$(BUILD) scripts/test.sh static

# make e2e FILE=tests/e2e/x.test.mjs runs only that file (several: FILE="a b"; tests/browser/
# files too) against a private stack.
e2e: bins
	@BUILD=$(BUILD) E2E_FILES="$(FILE)" scripts/test.sh e2e

faults: bins
	@BUILD=$(BUILD) scripts/test.sh faults

chaos: deps
	@$(MAKE) --no-print-directory bins
	@BUILD=$(BUILD) scripts/test.sh chaos

failover: deps
	@$(MAKE) --no-print-directory bins
	@BUILD=$(BUILD) scripts/test.sh failover

test: deps
	@$(MAKE) --no-print-directory bins
	@BUILD=$(BUILD) scripts/test.sh unit static e2e faults

asan: deps
	@$(MAKE) --no-print-directory SANITIZE=1 bins
	@BUILD=build/asan SANITIZE=1 scripts/test.sh unit e2e

valgrind: deps
	@$(MAKE) --no-print-directory bins
	@BUILD=$(BUILD) VALGRIND=1 scripts/test.sh unit e2e

bench: deps
	@$(MAKE) --no-print-directory bins
	@BUILD=$(BUILD) scripts/bench.sh

# --- containers ---------------------------------------------------------------
# The Kubernetes manifests read copies of these files (kustomize loads nothing from outside
# a kustomization's directory); tests/static/kubernetes.sh fails while a copy differs.
kubernetes-config:
	cp nginx/templates/default.conf.template deploy/kubernetes/base/config/
	cp postgres/postgresql.conf redis/redis.conf deploy/kubernetes/overlays/in-cluster/config/

# The Compose stack for real (tests/compose/run.sh): Docker, docker-compose and debootstrap
# are installed when missing; ends with "N passed, M failed".
compose-test:
	@scripts/deps.sh compose
	@tests/compose/run.sh

# The published images, built from the Dockerfiles with OCI labels, for the local Docker
# engine's platform (the release workflow builds linux/amd64 and linux/arm64 with buildx).
# IMAGE_REPO is the name prefix: images are $(IMAGE_REPO)-api, -worker and -nginx.
IMAGE_REPO ?= splitter
IMAGE_TAG ?= dev
DOCKER ?= docker
IMAGE_ARGS = --build-arg VERSION=$(IMAGE_TAG) \
	--build-arg REVISION="$$(git rev-parse HEAD)" \
	--build-arg SOURCE="$$(git config --get remote.origin.url || true)"

images:
	$(DOCKER) build $(IMAGE_ARGS) -f api/Dockerfile --target runtime -t $(IMAGE_REPO)-api:$(IMAGE_TAG) .
	$(DOCKER) build $(IMAGE_ARGS) -f worker/Dockerfile --target runtime -t $(IMAGE_REPO)-worker:$(IMAGE_TAG) .
	$(DOCKER) build $(IMAGE_ARGS) -f nginx/Dockerfile -t $(IMAGE_REPO)-nginx:$(IMAGE_TAG) .

push: images
	$(DOCKER) push $(IMAGE_REPO)-api:$(IMAGE_TAG)
	$(DOCKER) push $(IMAGE_REPO)-worker:$(IMAGE_TAG)
	$(DOCKER) push $(IMAGE_REPO)-nginx:$(IMAGE_TAG)

# --- style ------------------------------------------------------------------

FORMAT_SRC = $(wildcard shared/*.[ch] api/*.[ch] worker/*.[ch] tools/*.c tools/splitterctl/*.[ch] \
                        tests/unit/*.[ch] bench/*.c \
                        fuzz/*.[ch])

format:
	clang-format -i $(FORMAT_SRC)

lint: deps
	clang-format --dry-run --Werror $(FORMAT_SRC)
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
	    --inline-suppr --std=c11 -Ishared -Ifuzz -D__GNUC__ --suppress=missingIncludeSystem \
	    shared api worker tools fuzz

clean:
	rm -rf build

-include $(ALL_OBJ:.o=.d) $(FUZZ_OBJ:.o=.d)
