# The verbs a newcomer types. `make help` lists them.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.PHONY: preflight deploy-check smoke help setup wasm build dev test test-unit test-e2e load fuzz bench bench-ratelimit migrate migrate-status size fmt lint deploy clean

help: ## List the make targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

setup: ## Install the toolchain (pinned: worker-build, wasm-bindgen, npm packages; from apt: PostgreSQL, Chromium) and print its versions
	@scripts/setup.sh

WORKER_SOURCES := $(shell find src templates migrations -type f) Cargo.toml Cargo.lock build.rs

wasm: build/worker/shim.mjs ## Build the release Worker into build/ (wrangler's [build] command)

build/worker/shim.mjs: $(WORKER_SOURCES)
	@source scripts/lib.sh && export_build_env && cd "$$ROOT" && worker-build --release

build: setup wasm ## Set up, then build the release Worker

dev: ## Run the product locally: Postgres, migrations, mail inbox, stand-ins for Stripe/OpenAI/Google without keys, wrangler dev (Ctrl-C stops all)
	@scripts/dev.sh

test: ## Run the whole test suite (unit, a short fuzzing run, end-to-end against workerd, Postgres and fakes)
	@scripts/test.sh

test-unit: ## Run only the native unit tests
	@cargo test --quiet --workspace --lib --bins

test-e2e: build ## Run only the end-to-end suite (the Worker must build)
	@cargo test --quiet --test e2e

load: build ## The bounded load test, longer: LOAD_USERS (24) users doing the whole journey for LOAD_SECS (120), then invariants in Postgres
	@LOAD_SECS="$${LOAD_SECS:-120}" LOAD_USERS="$${LOAD_USERS:-24}" cargo test --quiet --test e2e -- load:: --nocapture

FUZZ_CASES ?= 50000
fuzz: ## Fuzz every parser of outside bytes, long: FUZZ_CASES per target (default 50000, ~15 min)
	@FUZZ_CASES=$(FUZZ_CASES) cargo test --quiet --test fuzz

bench: ## Benchmark every route against a trivial JS Worker and a Hono peer, with budgets (~8 min; see BENCHMARKS.md)
	@scripts/bench.sh

bench-ratelimit: ## What the rate limiter costs: decisions/s and added latency vs the same route unlimited (~1 min)
	@scripts/bench-ratelimit.sh

migrate: ## Apply migrations to DATABASE_URL (default: the local dev cluster)
	@DATABASE_URL="$${DATABASE_URL:-postgres://ghosttools:dev@127.0.0.1:54329/ghosttools}" cargo run --quiet --bin migrate

migrate-status: ## Show applied and pending migrations for DATABASE_URL
	@DATABASE_URL="$${DATABASE_URL:-postgres://ghosttools:dev@127.0.0.1:54329/ghosttools}" cargo run --quiet --bin migrate -- --status

size: ## Print the Worker bundle size (wasm raw and gzip, total upload)
	@scripts/size.sh

fmt: ## Format the Rust code
	@cargo fmt

lint: ## Clippy for the Worker (wasm32) and the native code, warnings as errors
	@cargo clippy --quiet --lib --target wasm32-unknown-unknown -- -D warnings
	@cargo clippy --quiet --workspace --all-targets -- -D warnings

# Where preflight reads the secrets: this shell (default), ENV_FILE=<dotenv file>, or
# FROM_WRANGLER=1 (names from `wrangler secret list`). STRIPE_TEST_MODE=1 for a staging deploy.
PREFLIGHT_ARGS = $(if $(ENV_FILE),--env-file "$(ENV_FILE)") $(if $(FROM_WRANGLER),--from-wrangler) $(if $(STRIPE_TEST_MODE),--stripe-test-mode)

preflight: ## Check the production config: wrangler.toml + secrets (shell, ENV_FILE=… or FROM_WRANGLER=1)
	@cargo run --quiet --bin preflight -- $(PREFLIGHT_ARGS) wrangler.toml

deploy-check: ## Prove the Worker bundles and fits Cloudflare's size limit (wrangler deploy --dry-run; offline)
	@scripts/deploy-check.sh

smoke: ## After a deploy: health, security headers, sign-in page, webhook refuses unsigned, a database soak (URL=https://…)
	@scripts/smoke.sh "$(URL)"

# Without ENV_FILE, deploy checks the secrets Cloudflare holds (FROM_WRANGLER): deploying
# needs the same login.
# A dirty tree is refused first: the deployed version (/api/health) is the commit, stamped by
# scripts/deploy.sh as GHOSTTOOLS_VERSION.
deploy: setup ## Refuse a dirty tree; preflight, bundle check, migrate DATABASE_URL, wrangler deploy stamped with the commit
	@scripts/deploy.sh --check
	@test -n "$$DATABASE_URL" || { echo "set DATABASE_URL to the production database (a direct connection string)"; exit 1; }
	@$(MAKE) -s preflight $(if $(ENV_FILE),,FROM_WRANGLER=1)
	@scripts/deploy-check.sh
	@cargo run --quiet --bin migrate
	@scripts/deploy.sh

clean: ## Remove build output and local state (keeps the dev database in .pg/)
	@rm -rf build target .wrangler
