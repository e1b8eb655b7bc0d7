# Two commands matter: `make bench` (the default benchmark) and `make test` (the tests).
# Both install what they need first; the install is remembered in .venv/.install-stamp.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.install-stamp
TORCH_PIN := torch==2.13.0
export MUJOCO_GL ?= egl
export PYOPENGL_PLATFORM ?= egl

# With no TASK given, `make bench` runs the reward-model track (docs/reward-track.md): erl-vlm
# and rbrl beside the gt-reward and sparse references on drawer-open, scored without RL, in a
# few minutes on 2 cores. Naming a TASK runs that task's RL loop (online SAC; ALFRED: offline
# IQL) as before; LOOP=reward-model picks the track for any MetaWorld task.
ifeq ($(origin TASK),undefined)
TASK := metaworld/drawer-open
LOOP ?= reward-model
METHODS ?= erl-vlm,rbrl,gt-reward,sparse
OUT ?= results/reward-model
endif
LOOP ?= auto
METHODS ?= erl-vlm
SEEDS ?= 0,1
BUDGET ?= smoke
ORACLE ?= scripted
CACHE ?= record
# replay straight from a committed bundle (read-only, no import): CACHE=replay BUNDLE=path
BUNDLE ?=
BACKEND ?=
OUT ?= results
EXECUTOR ?= local
JOBS ?=
EXTRA ?=

.PHONY: bench test test-all install sysdeps lint format report clean lock submit docker-build docker-bench \
	docker-test docker-test-ci

$(STAMP): pyproject.toml requirements.lock Makefile
	@bash scripts/install.sh "$(PYTHON)" "$(VENV)"
	@touch $(STAMP)

install: $(STAMP)

sysdeps:
	@bash scripts/sysdeps.sh

bench: $(STAMP)
	$(PY) -m benchmark sweep --tasks "$(TASK)" --methods "$(METHODS)" --seeds "$(SEEDS)" \
		--budget "$(BUDGET)" --oracle "$(ORACLE)" --cache "$(CACHE)" --out "$(OUT)" \
		--executor "$(EXECUTOR)" --loop "$(LOOP)" $(if $(JOBS),--jobs $(JOBS)) \
		$(if $(BACKEND),--backend $(BACKEND)) $(if $(BUNDLE),--bundle "$(BUNDLE)") $(EXTRA)

test: $(STAMP)
	$(PY) -m pytest -q

test-all: $(STAMP)
	$(PY) -m pytest -q -m "slow or not slow"

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

format: $(STAMP)
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

report: $(STAMP)
	$(PY) -m benchmark report "$(OUT)"

# make submit METHOD=package.module:Class [SUITE=metaworld] [TRACK=scripted] [PROTOCOL=smoke]
#             [NAME=..] [AUTHORS="A, B"] [VERSION=..] [CODE_URL=..] [JOBS=..]
submit: $(STAMP)
	@test -n "$(METHOD)" || { echo "usage: make submit METHOD=package.module:Class [SUITE=metaworld] [TRACK=scripted] [PROTOCOL=id] [NAME=..] [AUTHORS=..] [VERSION=..] [CODE_URL=..]" >&2; exit 2; }
	$(PY) -m benchmark.leaderboard submit --method "$(METHOD)" \
		$(if $(PROTOCOL),--protocol "$(PROTOCOL)",--suite "$(or $(SUITE),metaworld)" --track "$(or $(TRACK),scripted)") \
		$(if $(NAME),--name "$(NAME)") $(if $(AUTHORS),--authors "$(AUTHORS)") \
		$(if $(VERSION),--version "$(VERSION)") $(if $(CODE_URL),--code-url "$(CODE_URL)") \
		$(if $(JOBS),--jobs $(JOBS))

# Regenerate requirements.lock (the pins CI and the Docker images install) reproducibly.
lock:
	bash scripts/lock.sh

# Docker images (docs/docker.md). DOCKER=podman builds and runs them with podman instead.
DOCKER ?= docker
IMAGE ?= metaworld
GPU ?=
DOCKER_TAG = vlm-feedback-bench/$(1):latest
# extra `docker run` flags, e.g. DOCKER_RUN_ARGS="--user $(id -u):$(id -g)" (the images run as uid 1000)
DOCKER_RUN_ARGS ?=
# the image `make bench` needs: ALFRED on THOR -> alfred, else metaworld (GPU=1: metaworld-gpu),
# which also runs the ALFRED twin and real/... tasks (the client; `robot` is the server's image)
BENCH_IMAGE = $(if $(findstring thor,$(BACKEND)),alfred,$(if $(GPU),metaworld-gpu,metaworld))

docker-build:
	$(DOCKER) build $(if $(filter podman,$(DOCKER)),--format docker )-f docker/$(IMAGE)/Dockerfile -t $(call DOCKER_TAG,$(IMAGE)) .

docker-bench:
	$(MAKE) docker-build IMAGE=$(BENCH_IMAGE)
	mkdir -p $(OUT) .cache
	$(DOCKER) run --rm $(if $(GPU),--gpus all -e MUJOCO_GL=egl) -e GEMINI_API_KEYS -e GEMINI_API_KEY -e OPENAI_API_KEY \
		$(DOCKER_RUN_ARGS) \
		-v "$(abspath $(OUT)):/home/bench/suite/results" -v "$(CURDIR)/.cache:/home/bench/suite/.cache" \
		$(call DOCKER_TAG,$(BENCH_IMAGE)) bench TASK="$(TASK)" METHODS="$(METHODS)" SEEDS="$(SEEDS)" \
		BUDGET="$(BUDGET)" ORACLE="$(ORACLE)" CACHE="$(CACHE)" EXECUTOR="$(EXECUTOR)" LOOP="$(LOOP)" \
		$(if $(JOBS),JOBS=$(JOBS)) $(if $(BACKEND),BACKEND=$(BACKEND))

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache

# make docker-test [IMAGE=robot,metaworld] [DOCKER_LOG=docs/docker-test.log]: build each image here
# (installing podman where no engine is) and run its smoke inside with no network; logs build
# time, image size and smoke result per image. Every image unless IMAGE is given: the slow one.
DOCKER_IMAGES := robot,metaworld,alfred,metaworld-gpu
DOCKER_LOG ?= docs/docker-test.log
docker-test:
	bash scripts/docker_test.sh "$(if $(filter file,$(origin IMAGE)),$(DOCKER_IMAGES),$(IMAGE))" "$(DOCKER_LOG)"

# what .ci/run adds after `make test`: the smallest image that runs the whole install path
docker-test-ci:
	bash scripts/docker_test.sh robot "$(OUT)/docker-test-ci.log"
