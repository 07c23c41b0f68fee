#!/usr/bin/env bash
# Run a command with a private Docker engine, then stop the engine.
#
#   scripts/with_dockerd.sh [--prepare-image] [COMMAND ARGS...]
#
# Where Debian's docker.io (dockerd) is installed and no engine answers at $DOCKER_HOST (or the
# default socket), this starts `dockerd --bridge=none --iptables=false` with its own data root,
# exec root, pidfile and socket under $SVGARENA_DOCKERD_DIR (default /var/tmp/svgarena-dockerd,
# kept between runs so built images are reused), exports DOCKER_HOST for COMMAND, runs COMMAND,
# stops the engine it started (SIGTERM, then SIGKILL after 20 s) and exits with COMMAND's status.
# No Docker network is ever created: the engine has no bridge, containers run with network none.
# Where there is no dockerd, or it cannot start, COMMAND runs without one (the docker tests then
# skip and say why); where an engine already answers, it is used and left alone.
#
# --prepare-image: once the engine answers, make sure the renderer image exists (a Debian base
# from debootstrap via scripts/docker_base.sh, then `svgarena sandbox build` on it) and export
# SVGARENA_REQUIRE_DOCKER=1, so the docker tests fail instead of skipping if anything is missing.
set -uo pipefail

DIR=${SVGARENA_DOCKERD_DIR:-/var/tmp/svgarena-dockerd}
SOCK="$DIR/docker.sock"
PIDFILE="$DIR/dockerd.pid"
LOG="$DIR/dockerd.log"
started=""

engine_answers() {
  # `docker version` needs the client; fall back to a raw HTTP ping over the socket.
  local host=$1
  if command -v docker >/dev/null 2>&1; then
    DOCKER_HOST="$host" timeout 10 docker version >/dev/null 2>&1 && return 0
  fi
  local path=${host#unix://}
  [ -S "$path" ] && command -v curl >/dev/null 2>&1 \
    && timeout 5 curl -sf --unix-socket "$path" http://localhost/_ping >/dev/null 2>&1
}

stop_engine() {
  [ -n "$started" ] || return 0
  local pid
  pid=$(cat "$PIDFILE" 2>/dev/null || true)
  [ -n "$pid" ] || pid=$started
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  fi
  # containerd that dockerd started lives in its process group; dockerd stops it on TERM.
  started=""
}

start_engine() {
  command -v dockerd >/dev/null 2>&1 || { echo "with_dockerd: no dockerd installed; running without a Docker engine" >&2; return 1; }
  if [ -n "${DOCKER_HOST:-}" ] && engine_answers "$DOCKER_HOST"; then
    echo "with_dockerd: using the engine at $DOCKER_HOST" >&2; return 0
  fi
  mkdir -p "$DIR/data" "$DIR/exec"
  # A previous engine of ours that is still running (e.g. a killed test run) is reused.
  if [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && engine_answers "unix://$SOCK"; then
    export DOCKER_HOST="unix://$SOCK"
    echo "with_dockerd: reusing the engine at $DOCKER_HOST" >&2
    return 0
  fi
  rm -f "$SOCK" "$PIDFILE"
  dockerd --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false \
    --data-root "$DIR/data" --exec-root "$DIR/exec" --pidfile "$PIDFILE" \
    --host "unix://$SOCK" --containerd-namespace svgarena --containerd-plugins-namespace svgarena-plugins \
    >"$LOG" 2>&1 &
  started=$!
  for _ in $(seq 1 60); do
    if engine_answers "unix://$SOCK"; then
      export DOCKER_HOST="unix://$SOCK"
      echo "with_dockerd: engine started at $DOCKER_HOST (pid $started, log $LOG)" >&2
      return 0
    fi
    kill -0 "$started" 2>/dev/null || break
    sleep 0.5
  done
  echo "with_dockerd: dockerd did not start; last lines of $LOG:" >&2
  tail -n 5 "$LOG" >&2
  stop_engine
  return 1
}

prepare_image() {
  local here svgarena
  here=$(cd "$(dirname "$0")/.." && pwd)
  svgarena="$here/.venv/bin/svgarena"
  [ -x "$svgarena" ] || svgarena=svgarena
  local tag
  tag=$("$here/.venv/bin/python" -c 'from svgarena.sandboxes import image_tag; print(image_tag())' 2>/dev/null || true)
  export SVGARENA_REQUIRE_DOCKER=1
  if [ -n "$tag" ] && docker image inspect "$tag" >/dev/null 2>&1; then
    echo "with_dockerd: renderer image $tag is ready" >&2; return 0
  fi
  echo "with_dockerd: building the renderer image $tag" >&2
  bash "$here/scripts/docker_base.sh" svgarena-base:bookworm >&2 \
    && "$svgarena" sandbox build --base svgarena-base:bookworm >"$DIR/build.log" 2>&1 \
    && echo "with_dockerd: built $tag" >&2 \
    || { echo "with_dockerd: the renderer image could not be built; last lines of $DIR/build.log:" >&2;
         tail -n 15 "$DIR/build.log" >&2; }
}

prepare=""
if [ "${1:-}" = "--prepare-image" ]; then prepare=1; shift; fi
trap stop_engine EXIT
trap 'stop_engine; exit 130' INT TERM
if start_engine && [ -n "$prepare" ] && [ -n "${DOCKER_HOST:-}" ]; then
  prepare_image
fi
if [ $# -eq 0 ]; then exit 0; fi
"$@"
status=$?
stop_engine
exit $status
