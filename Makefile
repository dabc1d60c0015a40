# Two commands on a fresh machine:  make demo   and   make test
# TORCH_VERSION: the torch to build and test against (default: the pinned 2.11.0; tested: 2.11.0
# and 2.15.0), e.g.  make test TORCH_VERSION=2.15.0
# VENV: the virtualenv to create/use; BUILD: the build folder. Defaults: .venv and build for the
# pinned torch, .venv-torch<version> and build-torch<version> for any other, so that two torch
# versions never share a venv or a build folder (both are checked: see TORCH_CHECK).
TORCH_PINNED := 2.11.0
TORCH_VERSION := $(TORCH_PINNED)
ifeq ($(TORCH_VERSION),$(TORCH_PINNED))
VENV ?= .venv
BUILD ?= build
else
VENV ?= .venv-torch$(TORCH_VERSION)
BUILD ?= build-torch$(TORCH_VERSION)
endif
PYTHON ?= python3
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MYOPS_BUILD_DIR := $(abspath $(BUILD))/setup
# Every recipe line runs with bash -o pipefail: a pipeline fails when any part of it fails, so
# filtering a command's output never hides its exit status.
SHELL := bash
.SHELLFLAGS := -o pipefail -ec
INSTALL_LOG := $(abspath $(BUILD))/install.log

.PHONY: venv install demo test pytest test-large fuzz ctest ctest-examples bench gpu-check sanitize clean
all: install

# The torch installed in $(VENV) (e.g. 2.15.0+cu132; empty: none yet), read without importing it.
VENV_TORCH = $$($(PY) -c "import importlib.metadata as m; print(m.version('torch'))" 2>/dev/null || true)
# A venv is made for one torch version: one that holds another torch is never reused (nor
# silently reinstalled: it may be someone's), make stops and says what to do.
define TORCH_CHECK
have="$(VENV_TORCH)"; \
if [ -n "$$have" ] && [ "$${have%%+*}" != "$(TORCH_VERSION)" ]; then \
  echo "make: $(VENV) holds torch $$have, not TORCH_VERSION=$(TORCH_VERSION): pass another VENV=..." \
       "(the default for $(TORCH_VERSION) is .venv-torch$(TORCH_VERSION)), or remove $(VENV)" >&2; exit 1; fi
endef
# A build folder is for one torch: $(BUILD)/torch-version records the venv's torch (with its
# local label: a +cpu and a +cu132 build differ too) at the first build; another torch stops.
define BUILD_CHECK
have="$(VENV_TORCH)"; mkdir -p $(BUILD); \
if [ -n "$$have" ]; then \
  if [ -f $(BUILD)/torch-version ] && [ "$$(cat $(BUILD)/torch-version)" != "$$have" ]; then \
    echo "make: $(BUILD) was built against torch $$(cat $(BUILD)/torch-version), $(VENV) has torch $$have:" \
         "pass another BUILD=... (the default for $(TORCH_VERSION) is build-torch$(TORCH_VERSION)), or make clean BUILD=$(BUILD)" >&2; \
    exit 1; fi; \
  echo "$$have" > $(BUILD)/torch-version; fi
endef

# The virtualenv with torch==$(TORCH_VERSION) and the test tools; redone when the pins change.
# The stamp names the torch version: a venv made for one version is not taken for another.
DEPS_STAMP := $(VENV)/.myops-deps-torch$(TORCH_VERSION)
$(DEPS_STAMP): requirements-dev.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(TORCH_CHECK)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install torch==$(TORCH_VERSION) -r requirements-dev.txt
	echo "torch==$(TORCH_VERSION)" > $@
venv: $(DEPS_STAMP)
	@$(TORCH_CHECK)

# Builds libmyops.so through setup.py (CMake + ninja) and installs the package into the venv;
# also installs the CMake package (find_package(myops)) under $(BUILD)/install for C++ hosts.
# Shows the build's progress lines (full log: $(BUILD)/install.log). A failed build stops here
# (and so stops demo, test, bench) and uninstalls the myops installed before, so that no stale
# libmyops.so can be imported and tested afterwards.
install: venv
	@$(BUILD_CHECK)
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
	$(PY) -m pytest -q -n 2 --dist loadfile -m "not large" tests

# Tensors past 2^31 elements (tests/test_large.py, marker `large`; deselected by `make test`, and
# skipped anywhere unless MYOPS_LARGE=1): every op with a CPU path, float16, spot-checked against
# the references on slices. One test at a time (no xdist), at most MYOPS_LARGE_MAX_GIB (12) GiB
# each, a test skips when MemAvailable is under its need + 2 GiB; prints time and peak RSS per test.
test-large: install
	MYOPS_LARGE=1 $(PY) -m pytest -q -p no:xdist -m large -rsx tests/test_large.py

# Property-based fuzzing (hypothesis): FUZZ_EXAMPLES random examples per op (10000 by default)
# against the references (tests/test_fuzz.py), and as many of vmap over random arguments against
# the per-sample loop (tests/test_fuzz_vmap.py); prints the counts per op at the end. `make test`
# runs the same modules with their bounded, derandomized default profile.
FUZZ_EXAMPLES ?= 10000
fuzz: install
	HYPOTHESIS_PROFILE=fuzz MYOPS_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(PY) -m pytest -q -n 2 tests/test_fuzz.py tests/test_fuzz_vmap.py

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

# ASan + UBSan (not part of `make test`: a separate, slow build). A CPU-only libmyops.so built
# with -DMYOPS_SANITIZE=$(SANITIZE) in $(BUILD)/sanitize (installed to $(BUILD)/sanitize-install),
# then, each under the sanitizers (any finding fails the step):
#   1. the C++ tests (tests/cpp, ctest), compiled and linked with the same -fsanitize flags;
#   2. scripts/sanitize_smoke.py: every op of the table, forward, backward, double backward and
#      error cases, in the venv's Python (not instrumented: the ASan runtime the library links is
#      LD_PRELOADed, with libstdc++, which Python does not link: else ASan's __cxa_throw
#      interceptor finds no real __cxa_throw and aborts at the first C++ exception; leak
#      detection off, Python keeps objects alive until exit by design);
#   3. tests/sanitize/leak_check: every op 1,000 times from a C++ host, LeakSanitizer on
#      (suppressions for torch's own one-time allocations: tests/sanitize/lsan.supp);
#   4. the fuzz tests (tests/test_fuzz.py, SANITIZE_FUZZ_EXAMPLES random examples per op) on the
#      sanitized library, as in step 2: random shapes, paddings and filters reach kernel paths
#      that no hand-picked sample does, and an out-of-bounds access there shows only under ASan
#      (one that crashed only now and then: docs/performance.md, "RowRun for 1-D filters");
#   5. the per-ISA tests (tests/test_cpu_isa.py: every ISA's kernels, rows of 1-70 elements
#      written between sentinels; tests/test_fast_math.py: scalar tail = vector body, bit for
#      bit) on the sanitized library: its masked loads and stores under ASan, and a second
#      optimization level (-O2) for the bit-agreement promises (it found a*b+c fused in one
#      lambda and not the other: cmake/MyopsCpuIsa.cmake).
# GCC (libasan); SANITIZE_CALLS sets the leak check's calls per op.
SANITIZE ?= address,undefined
SANITIZE_CALLS ?= 1000
SANITIZE_FUZZ_EXAMPLES ?= 1000
SAN_BUILD := $(abspath $(BUILD))/sanitize
SAN_CXXFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=undefined
SAN_CMAKE := -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_PREFIX_PATH=$(SAN_BUILD)-install \
             -DCMAKE_CXX_FLAGS="$(SAN_CXXFLAGS)" \
             -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=$(SANITIZE)"
SAN_ENV := ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
sanitize: venv
	@$(BUILD_CHECK)
	cmake -S . -B $(SAN_BUILD) -G Ninja -DPython3_EXECUTABLE=$(abspath $(PY)) -DMYOPS_CUDA=OFF \
	      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMYOPS_SANITIZE=$(SANITIZE) > /dev/null
	cmake --build $(SAN_BUILD)
	cmake --install $(SAN_BUILD) --prefix $(SAN_BUILD)-install > /dev/null
	@echo "== sanitize 1/5: C++ tests (ctest)"
	cmake -S tests/cpp -B $(SAN_BUILD)-cpp-tests $(SAN_CMAKE) > /dev/null
	$(SAN_ENV) cmake --build $(SAN_BUILD)-cpp-tests
	cd $(SAN_BUILD)-cpp-tests && $(SAN_ENV) ctest --output-on-failure --no-tests=error
	@echo "== sanitize 2/5: Python smoke run of every op (scripts/sanitize_smoke.py)"
	LD_PRELOAD="$$(ldd $(SAN_BUILD)/libmyops.so | awk '/libasan|libstdc\+\+/ {print $$3}' | sort | tr '\n' ' ')" $(SAN_ENV) \
	  MYOPS_LIBRARY=$(SAN_BUILD)/libmyops.so PYTHONPATH=$(abspath python) $(PY) scripts/sanitize_smoke.py
	@echo "== sanitize 3/5: LeakSanitizer, every op $(SANITIZE_CALLS) times from C++ (tests/sanitize/leak_check)"
	cmake -S tests/sanitize -B $(SAN_BUILD)-leak $(SAN_CMAKE) > /dev/null
	cmake --build $(SAN_BUILD)-leak
	ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(abspath tests/sanitize/lsan.supp):print_suppressions=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(SAN_BUILD)-leak/leak_check $(SANITIZE_CALLS)
	@echo "== sanitize 4/5: the fuzz tests, $(SANITIZE_FUZZ_EXAMPLES) examples per op (tests/test_fuzz.py)"
	LD_PRELOAD="$$(ldd $(SAN_BUILD)/libmyops.so | awk '/libasan|libstdc\+\+/ {print $$3}' | sort | tr '\n' ' ')" $(SAN_ENV) \
	  HYPOTHESIS_PROFILE=fuzz MYOPS_FUZZ_EXAMPLES=$(SANITIZE_FUZZ_EXAMPLES) MYOPS_LIBRARY=$(SAN_BUILD)/libmyops.so \
	  PYTHONPATH=$(abspath python) $(PY) -m pytest -q -p no:cacheprovider tests/test_fuzz.py
	@echo "== sanitize 5/5: the per-ISA kernels and the fast math's bits (tests/test_cpu_isa.py, tests/test_fast_math.py)"
	LD_PRELOAD="$$(ldd $(SAN_BUILD)/libmyops.so | awk '/libasan|libstdc\+\+/ {print $$3}' | sort | tr '\n' ' ')" $(SAN_ENV) \
	  MYOPS_LIBRARY=$(SAN_BUILD)/libmyops.so PYTHONPATH=$(abspath python) \
	  $(PY) -m pytest -q -p no:cacheprovider tests/test_cpu_isa.py tests/test_fast_math.py
	@echo "make sanitize: ctest, the Python smoke run, the leak check, the fuzz tests and the per-ISA tests ran clean under -fsanitize=$(SANITIZE)"

clean:
	rm -rf $(BUILD) python/myops/lib
