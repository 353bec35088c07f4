# syntax=docker/dockerfile:1
#
# One image for every Plenilune role; the role is the `plen` subcommand:
#   docker run IMAGE nameserver      (PLEN_REDIS_URL, PLEN_CLUSTER_SECRET, PLEN_ROOT_USER,
#                                     PLEN_ROOT_PASSWORD, ...)
#   docker run IMAGE blockstore      (PLEN_BLOCKSTORE_DATA=/data, PLEN_NAMESERVER, ...)
#   docker run IMAGE gateway         (PLEN_NAMESERVER, PLEN_ROOT_USER, PLEN_ROOT_PASSWORD, ...)
#   docker run IMAGE ls /            (the CLI: PLEN_NAMESERVER, PLEN_ACCESS_KEY, PLEN_SECRET_KEY)
# Settings are the PLEN_* environment variables (or the flags) that `plen <role> --help`
# lists. No secret is set here: the cluster secret and the root credentials come from the
# container's environment (compose's .env, a Kubernetes Secret) at run time.

# ---- build: wheels for the project and every dependency (a compiler is at hand here for any
# dependency without a wheel for this platform; none of it reaches the final image).
FROM python:3.11-slim AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends build-essential \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN pip wheel --no-cache-dir --disable-pip-version-check -w /wheels .

# ---- runtime: slim Python, the installed wheels, no compiler, no source tree.
FROM python:3.11-slim
# In a container the servers listen on every interface: 127.0.0.1 would be unreachable.
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PLEN_NAMESERVER_HOST=0.0.0.0 \
    PLEN_BLOCKSTORE_HOST=0.0.0.0 \
    PLEN_GATEWAY_HOST=0.0.0.0 \
    PLEN_BLOCKSTORE_DATA=/data

# The wheels are bind-mounted from the build stage, so they never form a layer of this image.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    pip install --no-index --find-links /wheels plenilune \
    && plen --help >/dev/null

# A fixed numeric uid, so Kubernetes' runAsNonRoot can check it and volumes can be chowned.
# /data is owned by it: a new named volume mounted there inherits that ownership.
RUN groupadd --system --gid 10001 plen \
    && useradd --system --uid 10001 --gid plen --home-dir /home/plen --create-home \
       --shell /usr/sbin/nologin plen \
    && mkdir -p /data \
    && chown plen:plen /data
USER 10001:10001
WORKDIR /home/plen

# nameserver, blockstore, gateway. No HEALTHCHECK here: the port depends on the role, so
# compose and the Helm chart probe each role's GET /healthz themselves.
EXPOSE 7070 7100 9000
ENTRYPOINT ["plen"]
CMD ["--help"]
