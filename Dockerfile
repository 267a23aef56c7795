# The bot's image: `serve --http` on port 3000, the locked dependencies (hash-checked), a
# non-root user, a HEALTHCHECK on GET /healthz. README "Container" says how to build and run it.
#
#   docker build --build-arg BASE_IMAGE=python:3.11-slim-bookworm -t mlops-bot .
#
# BASE_IMAGE: any Debian-like image with python3 (3.11, as requirements.lock was compiled for)
# and its venv module, e.g. the official python slim image, or a base made with debootstrap.
# A build without PyPI passes its package index as PIP_INDEX_URL / PIP_FIND_LINKS build args;
# behind a TLS-inspecting proxy, PIP_CERT names its CA bundle (mounted with --volume).
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    MLOPS_BOT_DATA_DIR=/data

# Dependencies first (a layer that changes only with the lock): every package at the exact,
# hash-checked version of requirements.lock, as `make install` does.
COPY requirements.lock /tmp/requirements.lock
RUN python3 -m venv /opt/venv \
    && pip install --require-hashes -r /tmp/requirements.lock \
    && rm /tmp/requirements.lock

# The project itself, without dependencies (they all came from the lock); `pip check` fails the
# build when pyproject.toml asks for something the lock lacks.
WORKDIR /app
COPY pyproject.toml README.md manifest.yml ./
COPY bot ./bot
COPY handlers ./handlers
COPY jobs ./jobs
RUN pip install --no-deps . && pip check

# A user without a login shell or privileges; the data directory is the only place it writes.
RUN useradd --system --uid 10001 --user-group --home-dir /data --create-home \
        --shell /usr/sbin/nologin mlops-bot
USER mlops-bot
WORKDIR /data
VOLUME /data
EXPOSE 3000

# 200 when the database and MLflow answer; 503 (or no answer) makes the container unhealthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "import sys, urllib.request as u; sys.exit(0 if u.urlopen('http://127.0.0.1:3000/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["mlops-bot"]
CMD ["serve", "--http", "--host", "0.0.0.0", "--port", "3000"]
