# The commands of the README's quick start. Each installs first (idempotently) what it needs.
.PHONY: setup gguf run test bench

setup:
	bash scripts/setup.sh

# The local GGUF model server (svgarena serve gguf): builds llama-cpp-python from source (minutes).
gguf:
	bash scripts/setup.sh --gguf

run: setup
	.venv/bin/svgarena run

# setup.sh --test adds docker.io, debootstrap, the dev extra and the llama-cpp build to make run's install.
# The docker backend's tests need an engine: with_dockerd.sh starts a private one (and builds the
# renderer image) where docker.io is installed, stops it afterwards, and exits with pytest's status.
test:
	bash scripts/setup.sh --test
	bash scripts/with_dockerd.sh --prepare-image .venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python benchmarks/main_job.py
