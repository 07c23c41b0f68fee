# The two commands of the README's quick start. Both install first (idempotently).
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/svgarena run

# The docker backend's tests need an engine: with_dockerd.sh starts a private one (and builds the
# renderer image) where docker.io is installed, stops it afterwards, and exits with pytest's status.
test: setup
	bash scripts/with_dockerd.sh --prepare-image .venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python benchmarks/main_job.py
