# Amani — run `make` for the list of targets.
.DEFAULT_GOAL := help
SHELL := /bin/bash
PY := .venv/bin/python
export TF_CPP_MIN_LOG_LEVEL := 3
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: help venv setup train sync validate test run shell eval bench lint clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

venv: ## create .venv (Python 3.10) with the pinned packages
	@scripts/setup-venv.sh

setup: venv train sync ## environment + training (only what is stale) + content sync; no server

train: venv ## train the per-language NLU models and the dialogue model that are stale
	@$(PY) -m bot train

validate: venv ## rasa data validate (domain, rules, stories, all languages' NLU data)
	@mkdir -p reports && $(PY) -m rasa data validate --domain domain.yml --data data --config config.yml > reports/validate.log 2>&1 \
	  || (cat reports/validate.log; exit 1)
	@grep -E "UserWarning|WARNING|ERROR" reports/validate.log | grep -v "tensorflow\|absl\|cuda\|TensorRT\|cpu_feature" || echo "validate: clean"

sync: venv ## check content/library and load it into the database (idempotent; only changes are written)
	@$(PY) -m bot content sync

test: setup validate ## the full test suite (trains what is stale first)
	@$(PY) -m pytest -q tests

run: setup ## start the bot (REST on :5005) and the action server, on SQLite
	@$(PY) -m bot run

shell: setup ## talk to the bot in the terminal
	@$(PY) -m bot shell

eval: setup ## per-language NLU, crisis and content-search evaluation reports (reports/)
	@$(PY) -m bot eval-nlu
	@$(PY) -m bot eval-crisis data/eval/crisis/*.jsonl --report reports/crisis-eval.json || true
	@$(PY) -m bot eval-crisis data/eval/crisis-holdout/*.jsonl --report reports/crisis-holdout-eval.json || true
	@$(PY) -m bot eval-crisis data/eval/crisis-holdout2/*.jsonl --report reports/crisis-holdout2-eval.json || true
	@$(PY) -m bot eval-crisis data/eval/crisis-holdout3/*.jsonl --report reports/crisis-holdout3-eval.json || true
	@$(PY) -m bot eval-crisis data/eval/crisis-contrasts/*.jsonl --report reports/crisis-contrasts-eval.json || true
	@$(PY) -m bot eval-retrieval --report reports/retrieval-eval.json

bench: setup ## latency of the crisis layer and the router per message (reports/bench.json)
	@$(PY) -m bot bench

lint: venv ## ruff
	@.venv/bin/ruff check bot channels tests

clean: ## remove trained models and reports
	rm -rf models reports/*.json .rasa
