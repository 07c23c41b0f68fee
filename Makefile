# The two commands of the README's quick start. Both install first (idempotently).
.PHONY: setup run test bench

setup:
	bash scripts/setup.sh

run: setup
	.venv/bin/svgarena run

test: setup
	.venv/bin/python -m pytest -q

bench: setup
	.venv/bin/python benchmarks/main_job.py
