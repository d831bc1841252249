# The two commands a fresh machine needs:  `make demo` (the main job on the shipped model) and
# `make test` (setup, build, every test). Everything else here is a step of those.
SHELL := /bin/bash
BUILD ?= build
JOBS ?= $(shell nproc)
CTEST_ARGS ?=

.PHONY: setup configure build test demo asan clean

setup:
	bash scripts/setup

configure: setup
	@if [ ! -f $(BUILD)/build.ninja ]; then cmake -S . -B $(BUILD) -G Ninja; fi

build: configure
	cmake --build $(BUILD) -j $(JOBS)

# CTest says only "Skipped"; skip-reasons adds why, then CTest's summary is repeated so it stays last.
test: build
	cd $(BUILD) && set -o pipefail && ctest --output-on-failure -j $(JOBS) $(CTEST_ARGS) | tee ctest.out; \
	  status=$$?; bash $(CURDIR)/scripts/skip-reasons .; sed -n '/tests passed/,$$p' ctest.out; exit $$status

demo: build
	bash scripts/demo $(BUILD)

# AddressSanitizer + UBSan build of everything, then the unit tests under it.
asan: setup
	cmake -S . -B build-asan -G Ninja -DTAILOR_SANITIZE=ON -DTAILOR_CUDA=OFF
	cmake --build build-asan -j $(JOBS)
	cd build-asan && ctest --output-on-failure -j $(JOBS) -L unit

clean:
	rm -rf $(BUILD) build-asan
