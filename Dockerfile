# svgarena's sandbox images.
#
#   renderer  the static render worker (svgarena/sandboxes/_worker.py) with cairosvg, Pillow and
#             resvg-py in a venv; the docker backend runs a pool of these with network none, a
#             read-only root, tmpfs /tmp, memory/pids limits, no capabilities, as nobody.
#   harness   the renderer plus Debian's Chromium and the whole svgarena package (needs a
#             package index at build time).
#
# Build with `svgarena sandbox build` (it pins the renderer's wheels to the host's versions in
# docker/wheels/ so both backends draw the same pixels, and tags the image by the worker's hash).
# BASE is any Debian-like image with Python 3.11: an official slim Python image by default; where
# no registry is reachable, the image scripts/docker_base.sh makes from a debootstrap root.
ARG BASE=python:3.11-slim

FROM ${BASE} AS renderer
ENV LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
# cairo, fontconfig and fonts: in the debootstrap base already; from Debian where missing.
RUN set -eu; \
    if ! ldconfig -p | grep -q 'libcairo\.so\.2'; then \
      apt-get update; \
      apt-get install -y --no-install-recommends libcairo2 fontconfig fonts-dejavu-core; \
      rm -rf /var/lib/apt/lists/*; \
    fi; \
    python3 -c 'import sys; assert sys.version_info >= (3, 9), sys.version'
COPY docker/ /opt/svgarena/docker/
RUN set -eu; \
    python3 -m venv /opt/svgarena/venv; \
    if [ -f /opt/svgarena/docker/wheels/requirements.txt ]; then \
      /opt/svgarena/venv/bin/pip install --no-cache-dir --no-index \
        --find-links /opt/svgarena/docker/wheels -r /opt/svgarena/docker/wheels/requirements.txt; \
    else \
      /opt/svgarena/venv/bin/pip install --no-cache-dir -r /opt/svgarena/docker/renderer-requirements.txt; \
    fi; \
    rm -rf /opt/svgarena/docker; \
    fc-cache -f >/dev/null 2>&1 || true
COPY svgarena/sandboxes/_worker.py /opt/svgarena/worker.py
# Compile now: the root filesystem is read-only when the worker runs.
RUN /opt/svgarena/venv/bin/python -m compileall -q /opt/svgarena \
    && cd /tmp && /opt/svgarena/venv/bin/python -I /opt/svgarena/worker.py --probe >/dev/null
LABEL org.svgarena.image=renderer
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["/opt/svgarena/venv/bin/python", "-I", "/opt/svgarena/worker.py"]

FROM renderer AS harness
USER root
RUN set -eu; apt-get update; \
    apt-get install -y --no-install-recommends chromium fonts-dejavu-core; \
    rm -rf /var/lib/apt/lists/*
COPY pyproject.toml README.md /opt/svgarena/src/
COPY svgarena /opt/svgarena/src/svgarena
RUN /opt/svgarena/venv/bin/pip install --no-cache-dir /opt/svgarena/src
ENV SVGARENA_CHROMIUM=/usr/bin/chromium PATH=/opt/svgarena/venv/bin:$PATH
LABEL org.svgarena.image=harness
USER 65534:65534
WORKDIR /tmp
ENTRYPOINT ["svgarena"]
