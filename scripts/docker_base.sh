#!/usr/bin/env bash
# Build the Docker base image from a Debian 12 root filesystem, for machines with no registry.
#
#   scripts/docker_base.sh [TAG]        (default TAG: svgarena-base:bookworm)
#
# debootstrap (Debian's packages, from the machine's apt mirror) makes a minimal bookworm root
# with Python 3.11, venv, cairo and fonts; `docker import` turns it into an image. The repo's
# Dockerfile is then built on top with `--build-arg BASE=TAG` (`svgarena sandbox build --base TAG`).
# Idempotent: an existing TAG is kept unless SVGARENA_REBUILD_BASE=1. Needs root, debootstrap and
# a reachable Docker engine (DOCKER_HOST is honoured; scripts/with_dockerd.sh starts one).
set -euo pipefail
TAG=${1:-svgarena-base:bookworm}
SUITE=${SVGARENA_DEBIAN_SUITE:-bookworm}
MIRROR=${SVGARENA_DEBIAN_MIRROR:-}
if [ -z "$MIRROR" ]; then
  # The mirror apt already uses on this machine (deb822 or one-line sources), else Debian's CDN.
  MIRROR=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list 2>/dev/null \
    | grep -v security | head -n1 | sed -E 's/^URIs:[[:space:]]*//; s/^deb[[:space:]]+(\[[^]]*\][[:space:]]+)?//; s/[[:space:]].*$//' || true)
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
fi
PACKAGES=python3,python3-venv,libcairo2,fontconfig,fonts-dejavu-core,ca-certificates

if [ "${SVGARENA_REBUILD_BASE:-0}" != 1 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "docker_base: $TAG exists (SVGARENA_REBUILD_BASE=1 rebuilds it)"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "docker_base: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 2; }

ROOT=$(mktemp -d /var/tmp/svgarena-rootfs.XXXXXX)
cleanup() { rm -rf --one-file-system "$ROOT"; }
trap cleanup EXIT
echo "docker_base: debootstrap $SUITE from $MIRROR into $ROOT"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$ROOT" "$MIRROR" >"$ROOT.log" 2>&1 || {
  echo "docker_base: debootstrap failed; last lines of $ROOT.log:" >&2; tail -n 20 "$ROOT.log" >&2; exit 1; }
rm -f "$ROOT.log"
# Slim it: no apt lists, docs or caches in the image; fonts cache built once, here.
chroot "$ROOT" fc-cache -f >/dev/null 2>&1 || true
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb \
  "$ROOT"/usr/share/doc/* "$ROOT"/usr/share/man/* "$ROOT"/usr/share/info/*
echo "docker_base: importing as $TAG"
tar -C "$ROOT" --numeric-owner -c . | docker import \
  --change 'ENV LANG=C.UTF-8' --change 'CMD ["/bin/bash"]' - "$TAG" >/dev/null
docker image inspect "$TAG" --format 'docker_base: {{.RepoTags}} {{.Size}} bytes'
