# The serving image: one packaged bento, run by `bentoml serve` (the bento's own
# entrypoint). `make serving-image` (python -m reelops.serving_image) builds it from a
# context it assembles: bento/ (the bento of the last packaging run, with its models)
# and wheelhouse/ (`make wheelhouse`).
#
# Hermetic like the pipeline image: the bento's pinned requirements are installed from
# the wheelhouse with no package index. `bentoml containerize`'s generated Dockerfile
# is not used: it apt-installs compilers and git and fetches from PyPI at build time.
# PYTHON_IMAGE is the official base; CI passes a local Debian 12 image (.ci/base-image).
ARG PYTHON_IMAGE=python:3.11.7-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY wheelhouse /wheelhouse
COPY bento/env/python/requirements.txt /tmp/requirements.txt
RUN python3 -m venv /app/.venv \
 && /app/.venv/bin/pip install --quiet --no-index --find-links /wheelhouse uv \
 && UV_COMPILE_BYTECODE=1 /app/.venv/bin/uv pip install --quiet \
      --python /app/.venv/bin/python --no-index --find-links /wheelhouse \
      --requirement /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
# The uid/gid the Deployment runs as (deploy/base/deployment.yaml).
RUN groupadd --gid 10034 bentoml \
 && useradd --uid 10034 --gid 10034 --create-home --shell /usr/sbin/nologin bentoml
COPY --from=build /app/.venv /app/.venv
# Owned by root and read-only to the server: the root filesystem is read-only in
# Kubernetes too; what the server writes goes to /tmp (see the ENV below).
COPY bento /home/bentoml/bento
ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    LANG=C.UTF-8 \
    LC_ALL=C.UTF-8 \
    PYTHONUNBUFFERED=1 \
    BENTO_PATH=/home/bentoml/bento \
    BENTOML_HOME=/tmp/bentoml \
    BENTOML_CONTAINERIZED=true \
    BENTOML_DO_NOT_TRACK=true \
    DO_NOT_TRACK=1 \
    KEDRO_DISABLE_TELEMETRY=true \
    WHYLOGS_NO_ANALYTICS=True \
    MPLBACKEND=Agg \
    MPLCONFIGDIR=/tmp/matplotlib \
    NUMBA_CACHE_DIR=/tmp/numba \
    NUMBA_NUM_THREADS=1 \
    OMP_NUM_THREADS=1
WORKDIR /home/bentoml/bento
USER 10034:10034
EXPOSE 3000
ENTRYPOINT ["/home/bentoml/bento/env/docker/entrypoint.sh"]
