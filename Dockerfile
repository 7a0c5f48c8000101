# syntax=docker/dockerfile:1.7
# The pipeline image every Argo task runs: `kedro` with the project and its locked
# dependencies. Build: `make image` (tags it with the git SHA, as argo/ expects).

ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /usr/local/bin/uv
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# Dependencies first (cached while only code changes), exactly as uv.lock pins them.
COPY pyproject.toml uv.lock ./
COPY packages/recsys/pyproject.toml packages/recsys/pyproject.toml
COPY packages/reelops/pyproject.toml packages/reelops/pyproject.toml
COPY packages/kedro-hera/pyproject.toml packages/kedro-hera/pyproject.toml
COPY packages/reelops-monitoring/pyproject.toml packages/reelops-monitoring/pyproject.toml
COPY packages/reelops-serving/pyproject.toml packages/reelops-serving/pyproject.toml
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace
COPY packages/ packages/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-editable

FROM ${PYTHON_IMAGE}
ARG GIT_SHA=unknown
RUN groupadd --gid 10001 reelops \
 && useradd --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin reelops
WORKDIR /app
COPY --from=build /app/.venv /app/.venv
# Kedro wants its source dir and a local env to exist; the code itself is installed.
COPY packages/reelops/src packages/reelops/src
COPY pyproject.toml .telemetry ./
COPY conf/base conf/base
COPY conf/dev conf/dev
COPY conf/staging conf/staging
COPY conf/prod conf/prod
COPY pipelines pipelines
RUN mkdir -p conf/local data && chown -R 10001:10001 data
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    DO_NOT_TRACK=1 \
    WHYLOGS_NO_ANALYTICS=True \
    BENTOML_DO_NOT_TRACK=true \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    GIT_SHA=${GIT_SHA} \
    GIT_DIRTY=false
USER 10001:10001
ENTRYPOINT ["kedro"]
CMD ["run"]
