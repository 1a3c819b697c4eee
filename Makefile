# Two commands on a fresh machine: `make demo` and `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The CPU wheel this machine's pip offers; GPU nodes install a CUDA build instead (see README).
TORCH_SPEC ?= torch==2.13.0

.PHONY: install chromium slurm test lint demo benchmark clean

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet "$(TORCH_SPEC)"
	$(BIN)/pip install --quiet -e '.[test,vowels]'
	touch $@

# System packages come from apt: as root they are installed when missing; anyone else is told the
# exact command to run (and make stops) instead of failing half-way through apt-get.
define need_packages
  if [ "$$(id -u)" != 0 ]; then \
    echo "make $@: $(2) not installed; as root, run the following, then make again:" >&2; \
    echo "  sudo apt-get install -y $(1)" >&2; exit 1; \
  fi; \
  echo "installing Debian's $(1) ($(2))"; \
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(1) >/dev/null
endef

# Headless Chromium for PNG/SVG export (kaleido) and the browser tests.
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  $(call need_packages,chromium,headless Chromium for PNG/SVG export and the browser tests); }

# SLURM and MUNGE for the single-node dev cluster of the SLURM tests (storage/slurm/dev-cluster.sh).
SLURM_BINARIES := sbatch squeue scancel scontrol sinfo srun slurmctld slurmd munged
slurm:
	@PATH="$$PATH:/usr/sbin:/sbin"; \
	for binary in $(SLURM_BINARIES); do command -v $$binary >/dev/null 2>&1 || missing=1; done; \
	[ -z "$$missing" ] || { $(call need_packages,slurm-wlm munge,SLURM and MUNGE (SLURM tests)); }

lint: install
	$(BIN)/ruff check study tests benchmarks

test: install chromium slurm
	$(BIN)/ruff check study tests benchmarks
	$(BIN)/pytest -q

demo: install chromium
	$(BIN)/study demo

clean:
	rm -rf $(VENV) runs .pytest_cache .ruff_cache
