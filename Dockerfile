# The pipeline image every Argo task runs: `kedro` with the project and its locked
# dependencies. Build it with `make image` (which makes the wheelhouse first).
#
# Hermetic: every package comes from build/wheelhouse (`make wheelhouse`: the wheels
# uv.lock pins, hash-checked when they were fetched on the host) and
# build/workspace-wheels (the workspace packages), installed with no package index,
# so the build needs no network.
# PYTHON_IMAGE is the official base; CI passes a local Debian 12 image (.ci/base-image).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

# The locked dependencies in a stage of their own; the workspace packages are
# installed on top in the final stage, so a code change rebuilds only that small
# layer and Docker's cache keeps the stack's (uv.lock changes both).
FROM ${PYTHON_IMAGE} AS build
COPY build/wheelhouse /wheelhouse
RUN python3 -m venv /app/.venv \
 && /app/.venv/bin/pip install --quiet --no-index --find-links /wheelhouse uv \
 && UV_COMPILE_BYTECODE=1 /app/.venv/bin/uv pip install --quiet \
      --python /app/.venv/bin/python --no-index --find-links /wheelhouse \
      --requirement /wheelhouse/requirements.txt

FROM ${PYTHON_IMAGE}
RUN groupadd --gid 10001 reelops \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin reelops
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# With no index and no other wheels: a dependency the lock does not hold fails here.
COPY build/workspace-wheels /tmp/workspace-wheels
RUN UV_COMPILE_BYTECODE=1 /app/.venv/bin/uv pip install --quiet \
      --python /app/.venv/bin/python --no-index /tmp/workspace-wheels/*.whl \
 && rm -rf /tmp/workspace-wheels
# Kedro wants its source dir and a local env to exist; the code itself is installed.
COPY packages/reelops/src packages/reelops/src
COPY pyproject.toml .telemetry ./
COPY conf/base conf/base
COPY conf/dev conf/dev
COPY conf/staging conf/staging
COPY conf/prod conf/prod
COPY pipelines pipelines
# data/ and logs/ (kedro run's full log) are the only places the pipeline writes.
RUN mkdir -p conf/local data logs && chown -R 10001:10001 data logs
# Provenance only, declared last: a build argument is part of the cache key of every
# RUN after it, and GIT_SHA changes with every commit.
ARG GIT_SHA=unknown
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    WHYLOGS_NO_ANALYTICS=True \
    BENTOML_DO_NOT_TRACK=true \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    GIT_SHA=${GIT_SHA} \
    GIT_DIRTY=false
USER 10001:10001
ENTRYPOINT ["kedro"]
CMD ["run"]
