# Two commands do all set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
DEMO   := demo-output
TEST_WORKERS ?= 2

.PHONY: demo test docs bench clean

$(STAMP): pyproject.toml constraints-torch.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch (training extra, for its tests) is pinned to the local CPU build by the constraints file.
	$(BIN)/python -m pip install --quiet -c constraints-torch.txt -e '.[test,train]'
	touch $(STAMP)

## demo: make a phantom, run the whole pipeline on it with the example lab panel and answers, score it;
## then a phantom follow-up pair, both visits run, and the follow-up report (demo-output/followup-report)
demo: $(STAMP)
	rm -rf $(DEMO)
	$(BIN)/b12brain phantom --out $(DEMO)/phantom --seed 7 --lesion-load moderate --slice-mm 6
	$(BIN)/b12brain run --flair $(DEMO)/phantom/flair.nii.gz --t1 $(DEMO)/phantom/t1.nii.gz --out $(DEMO)/result \
		--labs examples/panel.json --symptoms examples/answers.json
	$(BIN)/b12brain evaluate --truth $(DEMO)/phantom/lesion.nii.gz --pred $(DEMO)/result/lesion_mask.nii.gz
	$(BIN)/b12brain phantom --followup --out $(DEMO)/pair --seed 7 --slice-mm 6 --scenario response
	$(BIN)/b12brain run --flair $(DEMO)/pair/baseline/flair.nii.gz --out $(DEMO)/visit1 \
		--patient-id DEMO-0001 --date 2026-01-12 --labs examples/panel.json --symptoms examples/answers.json --quiet
	$(BIN)/b12brain run --flair $(DEMO)/pair/followup/flair.nii.gz --out $(DEMO)/visit2 \
		--patient-id DEMO-0001 --date 2026-07-13 --labs examples/panel.json --symptoms examples/answers.json --quiet
	$(BIN)/b12brain report $(DEMO)/visit2 --prior $(DEMO)/visit1 --treatment-start 2026-01-20 \
		--out $(DEMO)/followup-report

## test: type check, the whole test suite, then the documentation site with warnings as errors.
## The suite runs on TEST_WORKERS processes (pytest-xdist), each test file whole on one of them.
test: $(STAMP)
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadfile
	$(MAKE) docs

## docs: build the documentation site (README, docs/, MODEL_CARD, API reference) into site/
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

## bench: speed of the whole run on phantoms (2 cores)
bench: $(STAMP)
	$(BIN)/python benchmarks/run_speed.py

clean:
	rm -rf $(DEMO) site .pytest_cache
