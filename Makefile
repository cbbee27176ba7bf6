# Manouche: the commands a newcomer needs. CMake + Ninja do the work; this file only names it.
#   make            build everything into build/ (programs in build/bin/)
#   make demo       build and run the demo site on 127.0.0.1:$(PORT)
#   make test       unit + integration tests, the same under ASan+UBSan, then short fuzz runs
#   make bench      side-by-side benchmarks (release build), prints ratios, writes bench/results.json
#   make techempower  the TechEmpower benchmark app in the foreground ($(PORT), $(WORKERS))
#   make install    library, headers, pkg-config file and CMake package into $(PREFIX)
#   make format     clang-format every C file we own

PORT ?= 8000
WORKERS ?= $(shell nproc)
PREFIX ?= /usr/local
DEMO ?= polls
CMAKE_FLAGS ?=
ifneq ($(CI),)
CMAKE_FLAGS += -DMN_WERROR=ON
endif

BUILD := build
ASAN_BUILD := build/asan
FUZZ_BUILD := build/fuzz
CTEST := ctest --output-on-failure --timeout 600

.PHONY: all deps build asan fuzz demo test test-unit test-asan test-fuzz bench techempower \
        install format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	cmake --build $(BUILD)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMN_SANITIZE=ON $(CMAKE_FLAGS)

asan: $(ASAN_BUILD)/build.ninja
	cmake --build $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DMN_FUZZ=ON $(CMAKE_FLAGS)

fuzz: $(FUZZ_BUILD)/build.ninja
	cmake --build $(FUZZ_BUILD)

demo: build
	$(BUILD)/bin/$(DEMO) runserver 127.0.0.1:$(PORT)

test-unit: build
	cd $(BUILD) && $(CTEST) -L 'unit|integration'

test-asan: asan
	cd $(ASAN_BUILD) && $(CTEST) -L 'unit|integration'

test-fuzz: fuzz
	cd $(FUZZ_BUILD) && $(CTEST) -L fuzz

test: test-unit test-asan test-fuzz
	@echo "make test: all suites passed"

bench: build
	bench/run

techempower: build
	PORT=$(PORT) WORKERS=$(WORKERS) $(BUILD)/bin/techempower serve 0.0.0.0:$(PORT) --workers $(WORKERS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format:
	@git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus/' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
