# memcg-zombies. Set-up is two commands on a fresh Debian 12: `make demo`, `make test`.

SYS_PY   := /usr/bin/python3
VENV     := .venv
VENV_PY  := $(VENV)/bin/python
# The project's own import path for Debian's interpreter (python3-drgn 0.0.22): the
# src folder of the package.
SYS_PATH := $(CURDIR)/analyzers
# What building and the fast lane need (compilers, libkdumpfile, crash's headers, Check,
# Debian's drgn 0.0.22)...
BUILD_PKGS := gcc libc6-dev make python3 python3-dev python3-venv python3-pip \
              python3-drgn python3-pytest python3-jsonschema \
              libkdumpfile-dev libdw-dev libelf-dev crash \
              check clang libclang-rt-14-dev
# ...and what the test bed adds: guests, their dumps, makedumpfile.
TESTBED_PKGS := qemu-system-x86 qemu-utils busybox-static makedumpfile kmod e2fsprogs \
                xz-utils zstd
TESTBED  := $(SYS_PY) -m tests.testbed.build
PYTEST_ARGS ?= -ra

.PHONY: all deps build-deps venv vmcores vmcores-index demo test check lint clean \
        libhelper ctest fuzz bench crash-path samples

all: venv libhelper

# Everything the project needs, installed by the project itself (root: apt; the
# virtualenv: pip with PyPI's drgn). Nothing is installed when nothing is missing.
define apt_ensure
	@missing=$$(for p in $(1); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		echo "installing: $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi
	@touch $@
endef
.stamp-build-deps:
	$(call apt_ensure,$(BUILD_PKGS))
.stamp-deps: .stamp-build-deps
	$(call apt_ensure,$(TESTBED_PKGS))
build-deps: .stamp-build-deps
deps: .stamp-deps

$(VENV_PY): .stamp-build-deps setup.py pyproject.toml
	$(SYS_PY) -m venv $(VENV)
	$(VENV_PY) -m pip install -q --upgrade pip
	$(VENV_PY) -m pip install -q drgn pytest jsonschema ruff mypy
	$(VENV_PY) -m pip install -q -e .
	@touch $@
venv: $(VENV_PY)

# Real kernels, guests, vmcores and ground truth (cached outside the clone).
vmcores: .stamp-deps
	$(TESTBED)

vmcores-index:
	@$(TESTBED) --print-index

# The main job on the embedded default: the 6.1 case, analysed.
demo: venv .stamp-deps
	$(TESTBED) --kernels 6.1
	@set -e; idx=$$($(TESTBED) --print-index); \
	eval "$$($(SYS_PY) -c 'import json,sys; e=[x for x in json.load(open(sys.argv[1]))["entries"] if x["kernel"]=="6.1" and x["format"]=="kdump"][0]; print("VMCORE=%s VMLINUX=%s" % (e["vmcore"], e["vmlinux"]))' $$idx)"; \
	echo "+ memcg-zombies -c $$VMCORE -s $$VMLINUX"; \
	$(VENV)/bin/memcg-zombies -c $$VMCORE -s $$VMLINUX

# All tests, under both drgn generations; missing vmcores are built first (with
# CI=true: every series' newest ABI, every case built anew). The crash sessions of
# test_crash.py (5-30 s each, two crashes) do not depend on the drgn under test: they
# run in the first half only.
test: venv vmcores libhelper ctest lint
	$(VENV_PY) -m pytest $(PYTEST_ARGS) tests
	PYTHONPATH=$(SYS_PATH) $(SYS_PY) -m pytest $(PYTEST_ARGS) -p no:cacheprovider \
		--ignore=tests/test_crash.py tests

# The fast lane for people changing code: everything that needs no test bed (unit and
# synthetic-era tests, Check tests plain and sanitized, the schema, lint), both drgn
# generations. No guest, no kernel download.
check: venv libhelper ctest lint
	MZ_TESTBED=off $(VENV_PY) -m pytest -q $(PYTEST_ARGS) tests
	MZ_TESTBED=off PYTHONPATH=$(SYS_PATH) $(SYS_PY) -m pytest -q $(PYTEST_ARGS) -p no:cacheprovider tests

# pyflakes-level lint: undefined names, unused imports and variables; then mypy on the
# package (configured in pyproject.toml).
lint: venv
	$(VENV)/bin/ruff check --no-cache analyzers tests setup.py
	$(VENV)/bin/mypy

# libhelper: the C page-scan engine (memcg_zombies._scan, in place for both
# interpreters) and the crash extension (libhelper/build/zombies.so), its Check
# unit tests plain and under ASan/UBSan, libFuzzer.
libhelper: .stamp-build-deps
	MZ_REQUIRE_C=1 $(SYS_PY) setup.py -q build_ext --inplace
	$(MAKE) -C libhelper crash

# The sample outputs in docs/, regenerated from the test bed's 6.1 case (a test checks
# they are current).
samples: venv libhelper vmcores
	$(VENV_PY) -m tests.testbed.samples

# The newest crash the test bed runs (Debian sid's, through its own C library:
# tests/testbed/tools.py) and the zombies.so built for it: two lines.
crash-path: .stamp-deps
	@$(SYS_PY) -m tests.testbed.tools --crash-path

ctest: .stamp-build-deps
	$(MAKE) -C libhelper ctest asan

fuzz: .stamp-build-deps
	$(MAKE) -C libhelper fuzz FUZZ_SECONDS=$${FUZZ_SECONDS:-60}

# Large guests (16 GiB kdump, 8 GiB ELF), built once into their own cache.
bench: venv libhelper
	$(SYS_PY) -m tests.bench.build_large --mem 16384 --slab 1000 --formats kdump,lzo >/dev/null
	$(SYS_PY) -m tests.bench.build_large --mem 8192 --slab 1000 --drop d31 >/dev/null
	$(SYS_PY) -m tests.bench.build_large --mem 4096 --bulk 100000 --slab 0 --drop elf,d31 >/dev/null
	PYTHONPATH=$(SYS_PATH) $(SYS_PY) -m tests.bench.bench

clean:
	rm -rf libhelper/build analyzers/memcg_zombies/_scan*.so
	rm -rf $(VENV) .sys-path build *.egg-info .stamp-deps .stamp-build-deps .mypy_cache
