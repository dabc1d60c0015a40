# Two commands on a fresh machine:  make demo   and   make test
# VENV: the virtualenv to create/use (default .venv); BUILD: the build folder (default build).
VENV ?= .venv
BUILD ?= build
PYTHON ?= python3
TORCH_VERSION := 2.11.0
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MYOPS_BUILD_DIR := $(abspath $(BUILD))/setup
# Every recipe line runs with bash -o pipefail: a pipeline fails when any part of it fails, so
# filtering a command's output never hides its exit status.
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
INSTALL_LOG := $(abspath $(BUILD))/install.log

.PHONY: venv install demo test pytest fuzz ctest ctest-examples bench gpu-check clean
all: install

# The virtualenv with the pinned torch and the test tools; redone when the pins change.
$(VENV)/.myops-deps: requirements-dev.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install torch==$(TORCH_VERSION) -r requirements-dev.txt
	touch $@
venv: $(VENV)/.myops-deps

# Builds libmyops.so through setup.py (CMake + ninja) and installs the package into the venv;
# also installs the CMake package (find_package(myops)) under $(BUILD)/install for C++ hosts.
# Shows the build's progress lines (full log: $(BUILD)/install.log). A failed build stops here
# (and so stops demo, test, bench) and uninstalls the myops installed before, so that no stale
# libmyops.so can be imported and tested afterwards.
install: venv
	@mkdir -p $(BUILD)
	$(PY) -m pip install --no-build-isolation --no-deps -v . 2>&1 | tee $(INSTALL_LOG) \
	  | { grep -E "^ *\[[0-9]|error|warning: |Successfully" || true; } \
	  || { $(PY) -m pip uninstall -y -q myops >/dev/null 2>&1 || true; \
	       echo "make install: the build FAILED (full log: $(INSTALL_LOG)); myops is not installed in $(VENV)" >&2; \
	       exit 1; }
	$(PY) -c "import myops"
	cmake --install $(MYOPS_BUILD_DIR) --prefix $(abspath $(BUILD))/install > /dev/null

demo: install
	$(PY) -m myops demo

test: pytest ctest ctest-examples

# pytest exits 5 when it collected no test: that is a failure here, as any non-zero exit.
pytest: install
	$(PY) -m pytest -q -n 2 --dist loadfile tests

# Property-based fuzzing (tests/test_fuzz.py, hypothesis): FUZZ_EXAMPLES random examples per op
# (10000 by default) against the references; prints the counts per op at the end. `make test`
# runs the same module with its bounded, derandomized default profile.
FUZZ_EXAMPLES ?= 10000
fuzz: install
	HYPOTHESIS_PROFILE=fuzz MYOPS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -n 2 tests/test_fuzz.py

# C++ tests: a separate CMake project that finds myops the way users do (find_package).
ctest: install
	cmake -S tests/cpp -B $(BUILD)/cpp-tests -G Ninja -DCMAKE_PREFIX_PATH=$(abspath $(BUILD))/install \
	      -DPython3_EXECUTABLE=$(abspath $(PY)) > /dev/null
	cmake --build $(BUILD)/cpp-tests
	cd $(BUILD)/cpp-tests && ctest --output-on-failure --no-tests=error

# C++ deployment examples (examples/cpp): export a model with the venv's Python (TorchScript +
# AOTInductor), then run it from C++ programs that find myops the way users do.
ctest-examples: install
	cmake -S examples/cpp -B $(BUILD)/cpp-examples -G Ninja -DCMAKE_PREFIX_PATH=$(abspath $(BUILD))/install \
	      -DPython3_EXECUTABLE=$(abspath $(PY)) > /dev/null
	cmake --build $(BUILD)/cpp-examples
	cd $(BUILD)/cpp-examples && ctest --output-on-failure --no-tests=error

bench: install
	$(PY) benchmarks/run.py

# One command for a machine with a GPU: build (unless MYOPS_LIBRARY names a prebuilt libmyops.so),
# the whole pytest suite on CUDA, compute-sanitizer over scripts/gpu_smoke.py, the CUDA
# benchmarks; logs and a summary in benchmarks/results/gpu-check-<date>/ (or $OUT). Uses the
# venv's Python when it exists, else python3 with its preinstalled torch (no network needed).
# Exit status: 0 all passed, 1 a step failed, 2 no CUDA device (nothing checked), 3 missing tools.
GPU_CHECK_PYTHON ?= $(if $(wildcard $(PY)),$(abspath $(PY)),python3)
gpu-check:
	MYOPS_PYTHON=$(GPU_CHECK_PYTHON) scripts/gpu_check.sh

clean:
	rm -rf $(BUILD) python/myops/lib
