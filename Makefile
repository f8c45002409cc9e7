# Every target is a one-liner; `make run` and `make test` are all a newcomer needs.
SHELL := /bin/bash
UV = $(shell scripts/ensure-uv.sh)
PYTEST_ARGS ?=

.PHONY: bench-compose chaos mail run test test-fast fuzz lint format contracts bench stack compose-check k8s-check admin web web-types

run:  ## start the whole platform locally and print the gateway URL (the web app at /)
	scripts/ensure-sandbox.sh && scripts/build-web.sh && $(UV) sync --frozen --quiet && $(UV) run python scripts/devstack.py run

test:  ## web units, then unit + integration + e2e (browser journeys too) on real RabbitMQ, Redis, Mongo-wire, Chromium
	scripts/ensure-sandbox.sh && scripts/ensure-browser.sh && scripts/build-web.sh --check && (cd web && npx vitest run --reporter=dot) && $(UV) sync --frozen --quiet && $(UV) run pytest $(PYTEST_ARGS)

test-fast:  ## everything but the e2e tests
	$(UV) sync --frozen --quiet && $(UV) run pytest -m "not e2e" $(PYTEST_ARGS)

chaos:  ## every fault-injection scenario under load (kills, RabbitMQ restarted, Redis stopped, poison, duplicates) on a RabbitMQ node and Redis of its own, with the invariants table
	$(UV) sync --frozen --quiet && $(UV) run python tests/chaos/suite.py $(CHAOS_ARGS)

fuzz:  ## schemathesis against the live gateway's OpenAPI, many more cases per operation
	$(UV) sync --frozen --quiet && FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-150} $(UV) run pytest tests/e2e/test_fuzz_contract.py -s $(PYTEST_ARGS)

lint:  ## ruff (lint + format check), mypy --strict on the libraries and every service's domain/ and app/, bandit, the CI workflows (actionlint)
	$(UV) run ruff check . && $(UV) run ruff format --check . && $(UV) run mypy libs/contracts/src libs/servicekit/src services/*/src/*/domain services/*/src/*/app && $(UV) run bandit -q -c pyproject.toml -r services libs && scripts/lint-workflows.sh

web:  ## build the web app into web/dist (make run and make test do it when its sources changed)
	scripts/build-web.sh

web-types:  ## after an API change: the gateway's OpenAPI into web/src/api, and the TypeScript types from it
	$(UV) run python scripts/export_openapi.py web/src/api/openapi.json && cd web && npm run --silent gen

format:
	$(UV) run ruff format . && $(UV) run ruff check --fix .

contracts:  ## write the events' JSON Schemas to libs/contracts/schemas/
	$(UV) run python -m contracts.schemas_export

bench:  ## benchmarks that print figures (not tests)
	$(UV) run python bench/eventkit.py

bench-compose:  ## the benches against docker compose's MongoDB replica set, RabbitMQ and Redis (needs Docker; BENCHES="store_ops gateway")
	scripts/bench-compose.sh $(BENCHES)

mail:  ## the mail make run's SMTP catcher received (.data/mail), newest last, with their links
	$(UV) run python -m notifications.catcher --list .data/mail --last $${LAST:-20}

admin:  ## grant the admin role: make admin EMAIL=someone@example.com
	@test -n "$(EMAIL)" || (echo "usage: make admin EMAIL=someone@example.com" && exit 2)
	$(UV) run python -m auth.cli admin "$(EMAIL)"

stack:  ## the platform in containers (docker compose: Mongo replica set, RabbitMQ, Redis, MinIO); writes .env once
	@test -f .env || { scripts/gen-env.sh > .env && chmod 600 .env && echo "stack: wrote .env with fresh secrets"; }; $$(docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose) up --build

compose-check:  ## validate docker-compose.yml (schema, policies, and `docker-compose config` when installed)
	scripts/compose-check.sh

k8s-check:  ## kustomize build every overlay, validate against the Kubernetes schemas and policies
	scripts/k8s-check.sh
