# Two commands on a fresh machine:  make demo   and   make test
# VENV: the virtualenv to create/use (default .venv); BUILD: the build folder (default build).
VENV ?= .venv
BUILD ?= build
PYTHON ?= python3
TORCH_VERSION := 2.11.0
PY := $(VENV)/bin/python
export PATH := $(abspath $(VENV))/bin:$(PATH)
export MYOPS_BUILD_DIR := $(abspath $(BUILD))/setup

.PHONY: venv install demo test pytest ctest ctest-examples bench clean
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
install: venv
	$(PY) -m pip install --no-build-isolation --no-deps -v . 2>&1 | grep -E "^\[|error|warning: |Successfully" || true
	$(PY) -c "import myops" 
	cmake --install $(MYOPS_BUILD_DIR) --prefix $(abspath $(BUILD))/install > /dev/null

demo: install
	$(PY) -m myops demo

test: pytest ctest ctest-examples

# pytest exits 5 when it collected no test: that is a failure here, as any non-zero exit.
pytest: install
	$(PY) -m pytest -q -n 2 --dist loadfile tests

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

clean:
	rm -rf $(BUILD) python/myops/lib
