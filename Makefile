# The README's two commands: `make run` and `make test`. Each installs what it needs
# (Debian packages, via scripts/install-deps.sh) and builds first.
BUILD_DIR ?= build
JOBS ?= $(shell nproc)
PY := /usr/bin/python3
FUZZ_SECONDS ?= 60

.PHONY: all deps build run test unit integration fuzz clean

all: build

deps:
	@bash scripts/install-deps.sh

build: deps
	@cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS)

run: build
	./$(BUILD_DIR)/petrel serve

unit: build
	cd $(BUILD_DIR) && ctest --output-on-failure -j $(JOBS)

integration: build
	PETREL_BIN=$(abspath $(BUILD_DIR)/petrel) $(PY) -m pytest -q tests/integration

test: unit integration

fuzz: deps
	@cmake -S . -B build-fuzz -G Ninja -DCMAKE_CXX_COMPILER=clang++ -DPETREL_FUZZ=ON -DPETREL_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build build-fuzz -j $(JOBS) --target $$(cd fuzz && ls *.cpp | sed 's/^/fuzz_/; s/\.cpp$$//')
	@bash scripts/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

clean:
	rm -rf $(BUILD_DIR) build-fuzz
