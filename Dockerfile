# The official Python image. scripts/container builds this file on a stand-in made from Debian's
# packages instead (--build-arg BASE=...), where Docker Hub is out of reach.
ARG BASE=python:3.11-slim
FROM ${BASE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /src
COPY pyproject.toml ./
COPY mockserver ./mockserver
COPY fixtures ./fixtures
COPY contracts ./contracts
# A regular (non-editable) install: fixtures and contracts go into the package.
RUN pip install . && rm -rf /src

RUN useradd --create-home --uid 10001 mockserver \
    && mkdir /data && chown mockserver /data
USER mockserver
WORKDIR /home/mockserver

# The sandbox's state (every tenant, the clock, the faults) survives a restart of the container
# in this volume; MOCKSERVER_DATA_DIR= (empty) keeps it in memory only.
ENV MOCKSERVER_DATA_DIR=/data
VOLUME /data

EXPOSE 8080
# slim has no curl; python is always there. Any error or non-2xx exits 1.
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request as u; t = os.environ.get('MOCKSERVER_ADMIN_TOKEN'); u.urlopen(u.Request('http://127.0.0.1:8080/__admin/health', headers={'X-Admin-Token': t} if t else {}), timeout=2)"]

CMD ["mockserver", "serve", "--host", "0.0.0.0", "--port", "8080"]
