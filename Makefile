# reelops: every target sets up what it needs; CI calls the same targets.
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
UV_VERSION := 0.13.9
VENV := .venv
BIN := $(VENV)/bin
# The pinned uv, never whatever uv is on PATH: a fresh machine has none. The venv gets
# the same version from uv.lock (bentoml build runs it).
UV := .tools/bin/uv

# No telemetry, no usage reports, no uploads: CI has no stdin and no internet.
export KEDRO_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := 1
export BENTOML_DO_NOT_TRACK := true
export WHYLOGS_NO_ANALYTICS := True
export MPLBACKEND := Agg
export PYTHONWARNINGS := ignore::DeprecationWarning,ignore::FutureWarning,ignore::UserWarning
export UV_PYTHON_DOWNLOADS := never

# Raw MovieLens: the shared read-only copy when it exists (else data/01_raw, else download).
# REELOPS_SHARED_DIR=/nowhere behaves as a GitHub runner, which has no shared copy.
SHARED_DIRS := $(or $(REELOPS_SHARED_DIR),$(abspath ../shared) /work/shared)
SHARED_MOVIELENS := $(firstword $(wildcard $(addsuffix /data/movielens/ml-latest-small/ratings.csv,$(SHARED_DIRS))))
ifneq ($(SHARED_MOVIELENS),)
export MOVIELENS_DIR ?= $(patsubst %/,%,$(dir $(SHARED_MOVIELENS)))
endif

KEDRO := $(BIN)/kedro
ENV ?= local

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet "uv==$(UV_VERSION)"

# The venv is (re)synced only when the lock or a package manifest changes. Bytecode is
# compiled once here, the project's packages too: where PYTHONDONTWRITEBYTECODE is set
# (this CI host) every process would otherwise compile each module it imports again
# (measured: `kedro --help` 6.5 s -> 3.0 s, a monitoring `kedro run` 19.8 s -> 14.0 s).
$(VENV)/.synced: uv.lock pyproject.toml $(wildcard packages/*/pyproject.toml) | $(UV)
	$(UV) sync --frozen --all-packages --compile-bytecode
	$(BIN)/python -m compileall -q packages/*/src
	@touch $@

# SETUP= (empty) uses VENV as it is, without syncing it: for a venv managed
# elsewhere (tests/gitops runs this Makefile in scratch clones with the repo's venv).
SETUP ?= $(VENV)/.synced

.PHONY: setup
setup: $(SETUP) ## Create .venv and install the locked dependencies and packages

.PHONY: lock
lock: | $(UV) ## Re-resolve uv.lock after changing a dependency
	$(UV) lock

.PHONY: run
run: setup ## Run the main job (kedro run, the default pipeline) and print a summary
	$(KEDRO) run --env $(ENV)
	@$(BIN)/python -m reelops.summary

# Two workers (pytest-xdist). --dist loadscope: a module's tests run in one worker,
# in order, so a module-scoped fixture (a training run, a server) is built once.
# (loadgroup would also pin the session's default run to one worker, but
# pytest-xdist 3.8 cannot rename node ids under pytest 9.2: its groups are ignored.)
PYTEST_WORKERS ?= 2

.PHONY: test
test: setup ## Run the test suite: unit, integration and one real end-to-end run
	$(BIN)/python -m pytest -m "not image and not system" \
	  -n $(PYTEST_WORKERS) --dist loadscope --durations=20

# The monitoring report test screenshots the report with headless Chromium. GitHub's
# runner image ships /usr/bin/chromium; elsewhere it comes from apt (Debian's package).
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

.PHONY: chromium
chromium: ## Install headless Chromium from apt when missing (the monitoring report screenshot test)
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq chromium; }
	@chromium --version

# Two workers too: the GitOps loop (~200 s) runs beside the Argo harness modules
# (~300 s together); one after the other they took 450 s of CI's 25 minutes.
.PHONY: test-system
test-system: setup ## The system tier: Argo harness runs and the GitOps loop (.ci/run runs it)
	$(BIN)/python -m pytest -m system -n $(PYTEST_WORKERS) --dist loadscope --durations=10

.PHONY: lint
lint: setup ## pre-commit on every file (ruff, mypy, import contracts, pipeline specs, ...)
	$(BIN)/pre-commit run --all-files --show-diff-on-failure

.PHONY: validate-pipelines
validate-pipelines: setup ## Validate pipelines/*.yml without running anything
	$(BIN)/python -m reelops.pipeline_check

# ---- images: both install from a wheelhouse made here, with no package index ----
# The pipeline image is what argo/ names: `kedro argo image`, i.e. image.repository
# of conf/base/argo.yml tagged with the content hash of what goes into the image
# (image.tag_from). GIT_SHA is provenance only (the image's GIT_SHA env).
PIPELINE_IMAGE = $$($(KEDRO) argo image)
GIT_SHA := $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
WHEELHOUSE := build/wheelhouse
# The workspace packages' wheels, apart: the images install them in a layer of their
# own, so a code change does not invalidate the dependencies' layer.
WORKSPACE_WHEELS := build/workspace-wheels
# The Dockerfiles' base (default: the official python image); CI passes a local one.
PYTHON_IMAGE ?=
export PYTHON_IMAGE
IMAGE_FLAGS ?=
# serving-image: the bento of the version behind this alias (its run's archive when
# it is not in the local store), instead of the last local run's (promote.yml).
FROM_REGISTRY ?=
BASE_IMAGE_ARG = $(if $(PYTHON_IMAGE),--build-arg PYTHON_IMAGE=$(PYTHON_IMAGE))

# Every locked third-party wheel, hash-checked as pip fetches it (sdist-only packages
# are built into wheels here), for this machine's platform: make it on Linux with the
# image's CPU architecture. Re-made when uv.lock changes.
$(WHEELHOUSE)/requirements.txt: uv.lock | $(UV)
	@[ "$$(uname -s)" = Linux ] || { echo "wheelhouse: must be made on Linux (the images' platform), not $$(uname -s)" >&2; exit 1; }
	rm -rf $(WHEELHOUSE) && mkdir -p $(WHEELHOUSE)
	$(UV) export --quiet --frozen --no-dev --all-packages --no-emit-workspace --output-file $(WHEELHOUSE)/requirements.hashes.txt
	.tools/bin/pip wheel --quiet --no-deps --require-hashes --wheel-dir $(WHEELHOUSE) \
	  --requirement $(WHEELHOUSE)/requirements.hashes.txt 2>$(WHEELHOUSE)/pip.log \
	  || { tail -n 20 $(WHEELHOUSE)/pip.log >&2; exit 1; }
	$(UV) export --quiet --frozen --no-dev --all-packages --no-emit-workspace --no-hashes --output-file $@

.PHONY: wheelhouse
wheelhouse: $(WHEELHOUSE)/requirements.txt ## Wheels of the locked dependencies (build/wheelhouse) and the workspace packages (build/workspace-wheels)
	rm -rf $(WORKSPACE_WHEELS) $(WHEELHOUSE)/workspace
	$(UV) build --quiet --all-packages --wheel --out-dir $(WORKSPACE_WHEELS)
	@echo "wheelhouse: $$(ls $(WHEELHOUSE)/*.whl | wc -l) locked wheels in $(WHEELHOUSE) + $$(ls $(WORKSPACE_WHEELS)/*.whl | wc -l) workspace packages in $(WORKSPACE_WHEELS)"

# IMAGE_FLAGS=--push also pushes it, unless the registry has that tag already (same
# tag, same inputs: it is not rebuilt); --dry-run prints the commands only.
.PHONY: image
image: setup $(if $(findstring --dry-run,$(IMAGE_FLAGS)),,wheelhouse) ## Build the pipeline image argo/ names, `kedro argo image` (IMAGE_FLAGS=--push|--dry-run)
	@ref=$(PIPELINE_IMAGE); \
	run() { echo "$$*"; $(if $(findstring --dry-run,$(IMAGE_FLAGS)),:,"$$@"); }; \
	if [ -n "$(findstring --push,$(IMAGE_FLAGS))" ] && [ -z "$(findstring --dry-run,$(IMAGE_FLAGS))" ] \
	   && docker manifest inspect "$$ref" >/dev/null 2>&1; then \
	  echo "image: $$ref is in the registry already (same inputs): not rebuilt"; exit 0; \
	fi; \
	run docker build $(BASE_IMAGE_ARG) --build-arg GIT_SHA=$(GIT_SHA) -t "$$ref" .; \
	if [ -n "$(findstring --push,$(IMAGE_FLAGS))" ]; then run docker push "$$ref"; fi

.PHONY: serving-image
serving-image: setup $(if $(findstring --dry-run,$(IMAGE_FLAGS)),,wheelhouse) ## Build the image promotion names from the last packaged bento (IMAGE_FLAGS=--push|--dry-run)
	BENTOML_HOME=$${BENTOML_HOME:-$(CURDIR)/bentoml_home} \
	$(BIN)/python -m reelops.serving_image --env $(ENV) $(IMAGE_FLAGS) \
	  $(if $(FROM_REGISTRY),--from-registry $(FROM_REGISTRY))

.PHONY: image-test
image-test: setup ## Smoke-test both built images in Docker (after make run, image, serving-image)
	REELOPS_PIPELINE_IMAGE=$(PIPELINE_IMAGE) \
	BENTOML_HOME=$${BENTOML_HOME:-$(CURDIR)/bentoml_home} \
	$(BIN)/python -m pytest -m image tests/images

.PHONY: argo
argo: setup ## Compile every pipeline into argo/<env>/ (kedro argo compile)
	$(KEDRO) argo compile

.PHONY: argo-check
argo-check: setup ## Fail when argo/ differs from a fresh compile, then lint it
	$(KEDRO) argo check
	.ci/argo-lint

.PHONY: pr-report
pr-report: setup ## Markdown metric diff of this run vs the champion (data/08_reporting/pr_report.md)
	$(BIN)/python -m reelops.pr_report

PROMOTE_FLAGS ?=

.PHONY: promote-dev
promote-dev: setup ## Promote @challenger to dev when the gates pass (PROMOTE_FLAGS=--dry-run)
	$(KEDRO) promote --to dev --env $(ENV) $(PROMOTE_FLAGS)

.PHONY: promote-staging
promote-staging: setup ## Promote @challenger to staging when the gates pass (PROMOTE_FLAGS=--dry-run)
	$(KEDRO) promote --to staging --env $(ENV) $(PROMOTE_FLAGS)

.PHONY: promote-prod
promote-prod: setup ## Promote staging's model to prod when the gates pass
	$(KEDRO) promote --to prod --env $(ENV) $(PROMOTE_FLAGS)

.PHONY: promote-sync
promote-sync: setup ## Make MLflow aliases match deploy/environments (git wins)
	$(KEDRO) promote --sync --env $(ENV) $(PROMOTE_FLAGS)

.PHONY: rollback
rollback: setup ## Restore ENV's previous model from git history (make rollback ENV=prod)
	$(KEDRO) promote --rollback $(ENV) $(PROMOTE_FLAGS)

# kubernetes-validate knows no CRD (it warns and passes): the PrometheusRule is
# checked by reelops.alert_rules (its fields, severity and annotations), its rules
# by promtool (Debian: apt-get install prometheus), then the alerts' unit tests
# (deploy/monitoring/tests) run against the rules as rendered for ENV.
PROMTOOL ?= promtool
RULES_DIR = build/prometheus-$(ENV)

.PHONY: promtool
promtool: ## Install promtool (the Debian/Ubuntu package prometheus) when missing: deploy-check and the alert tests run it
	@if command -v $(PROMTOOL) >/dev/null; then echo "promtool: $$(command -v $(PROMTOOL))"; else \
	  sudo=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; \
	fi

.PHONY: deploy-check
deploy-check: setup ## Overlay images match deploy/environments; render deploy/overlays/$(ENV) and deploy/pipeline/overlays/$(ENV), validate them, check and test the alert rules
	@[ -d deploy/overlays/$(ENV) ] || { echo "deploy-check: no overlay for ENV=$(ENV): expected ENV=dev, staging or prod (deploy/overlays/)" >&2; exit 1; }
	@command -v $(PROMTOOL) >/dev/null || { echo "deploy-check: $(PROMTOOL) not found: apt-get install prometheus (Debian) or set PROMTOOL" >&2; exit 1; }
	@mkdir -p build
	$(BIN)/python -m reelops.promotion.overlay
	kubectl kustomize deploy/overlays/$(ENV) > build/deploy-$(ENV).yaml
	kubectl kustomize deploy/pipeline/overlays/$(ENV) > build/deploy-pipeline-$(ENV).yaml
	rm -rf $(RULES_DIR) && mkdir -p $(RULES_DIR) && cp deploy/monitoring/tests/*.test.yaml $(RULES_DIR)/
	$(BIN)/python -m reelops.alert_rules build/deploy-$(ENV).yaml --out $(RULES_DIR)/rules.yaml
	$(PROMTOOL) check rules $(RULES_DIR)/rules.yaml
	cd $(RULES_DIR) && $(PROMTOOL) test rules *.test.yaml
	$(BIN)/kubernetes-validate --strict build/deploy-$(ENV).yaml build/deploy-pipeline-$(ENV).yaml

.PHONY: serve
serve: setup ## Serve the newest packaged bento on http://127.0.0.1:3000 (after make run)
	@home=$${BENTOML_HOME:-$(CURDIR)/bentoml_home}; \
	[ -f "$$home/bentos/reelops-recommender/latest" ] || \
	  { echo "serve: no packaged bento in $$home: run \`make run\` first" >&2; exit 1; }
	BENTOML_HOME=$${BENTOML_HOME:-$(CURDIR)/bentoml_home} \
	REELOPS_FEEDBACK_DB_URL=$${REELOPS_FEEDBACK_DB_URL:-sqlite:///$(CURDIR)/data/01_raw/feedback.db} \
	REELOPS_PROFILE_PATH=$${REELOPS_PROFILE_PATH:-$(CURDIR)/data/07_model_output/request_profiles} \
	$(BIN)/bentoml serve reelops-recommender:latest --host 127.0.0.1 --port 3000

.PHONY: monitor
monitor: setup ## Monitor the last window of feedback; make retrain when decision.json says so
	$(KEDRO) run --env $(ENV) --pipeline monitoring
	@status=0; $(BIN)/python -m reelops.retrain --should-retrain --env $(ENV) || status=$$?; \
	case $$status in \
	  0) $(MAKE) --no-print-directory retrain ;; \
	  1) echo "monitor: no retrain needed" ;; \
	  *) exit $$status ;; \
	esac

# The one retrain path (monitoring triggers it; on the cluster the CronWorkflow runs
# the default pipeline and .github/workflows/promote.yml the last two steps): train
# on the ratings plus the accepted feedback, register @challenger when it passes the
# gates, package it, build its serving image, and write the staging promotion when
# it beats what staging serves. Each step is a green no-op when there is no better
# model. IMAGE_FLAGS=--dry-run where there is no Docker engine.
.PHONY: retrain
retrain: setup ## Retrain with the feedback, package, build the serving image, write the staging promotion
	$(KEDRO) run --env $(ENV)
	@$(BIN)/python -m reelops.summary
	$(MAKE) --no-print-directory serving-image
	$(MAKE) --no-print-directory promote-staging

.PHONY: tuned
tuned: setup ## Write the tuning pipeline's best points into parameters_training.yml (a diff to review)
	$(BIN)/python -m reelops.tuned

.PHONY: replay
replay: setup ## Replay MovieLens under three retraining policies -> data/08_reporting/replay/
	MLFLOW_EXPERIMENT_NAME=reelops-replay $(KEDRO) run --env $(ENV) --pipeline replay

.PHONY: bench
bench: setup ## Benchmarks vs the named peers (Surprise, bare Starlette, ...) -> reports/bench/*.json
	$(BIN)/python bench/models.py --out reports/bench/models.json
	$(BIN)/python bench/ranking.py --out reports/bench/ranking.json
	$(BIN)/python bench/ranking.py --dataset ml-100k --out reports/bench/ranking_ml100k.json
	$(BIN)/python bench/accuracy_validation.py --out reports/bench/accuracy_validation.json
	$(BIN)/python bench/accuracy.py --datasets ml-latest-small --out reports/bench/accuracy.json
	$(BIN)/python bench/accuracy.py --datasets ml-100k --out reports/bench/accuracy_ml100k.json
	$(BIN)/python bench/serving.py --out reports/bench/serving.json
	$(BIN)/python bench/monitoring.py --out reports/bench/monitoring.json
	$(BIN)/python bench/monitoring_bound.py --out reports/bench/monitoring_bound.json
	$(BIN)/python bench/monitoring_traffic.py --out reports/bench/monitoring_traffic.json
	$(BIN)/python bench/replay.py --out reports/bench/replay.json
	$(BIN)/python bench/startup.py --out reports/bench/startup.json
	$(BIN)/python bench/kedro_run.py --out reports/bench/kedro_run.json
	$(BIN)/python bench/ingest.py --out reports/bench/ingest.json

# The interpreter of a checkout of main, whose MF is "today's kernel" (optional).
BASELINE_PYTHON ?=

.PHONY: bench-scale
bench-scale: setup ## MF at 1M/5M/25M synthetic ratings, 2 threads, vs today's kernel (BASELINE_PYTHON=...) -> reports/bench/scale.json
	$(BIN)/python bench/scale.py --out reports/bench/scale.json $(if $(BASELINE_PYTHON),--baseline-python $(BASELINE_PYTHON))

.PHONY: bench-pipeline-scale
bench-pipeline-scale: setup ## The default pipeline stage by stage on 25M synthetic ratings (long; outside `make bench`) -> reports/bench/pipeline_scale.json
	$(BIN)/python bench/pipeline_scale.py --out reports/bench/pipeline_scale.json

.PHONY: mlflow-ui
mlflow-ui: setup ## MLflow UI on http://127.0.0.1:5000 for the local tracking DB
	$(BIN)/mlflow ui --backend-store-uri sqlite:///mlflow.db --host 127.0.0.1 --port 5000

.PHONY: clean
clean: ## Remove run outputs (data layers, tracking DB, artifacts); keeps .venv
	find data -mindepth 2 ! -name .gitkeep -delete
	rm -rf mlflow.db mlartifacts
