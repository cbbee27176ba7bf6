# Manouche: the commands a newcomer needs. CMake + Ninja do the work; this file only names it.
#   make            build everything into build/ (programs in build/bin/)
#   make demo       build and run the demo site on 127.0.0.1:$(PORT)
#   make test       unit + integration tests, the same under ASan+UBSan, then short fuzz runs
#   make bench      side-by-side benchmarks (release build), prints ratios, writes build/bench-results.json
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
# A build folder configured earlier without CI keeps its cache: set the flags again on it.
RECONFIGURE = cmake $(1) $(CMAKE_FLAGS) >/dev/null
else
RECONFIGURE = true
endif

BUILD := build
RELEASE_BUILD := build/release
# What make bench and make techempower run: optimised (-O3, NDEBUG), nothing else built.
RELEASE_TARGETS := techempower bench-floor bench-dbfloor bench-template bench-orm
ASAN_BUILD := build/asan
FUZZ_BUILD := build/fuzz
CTEST := ctest --output-on-failure --timeout 600

.PHONY: all deps build release asan fuzz demo test test-unit test-asan test-fuzz bench techempower \
        install format clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS)

build: $(BUILD)/build.ninja
	@$(call RECONFIGURE,$(BUILD))
	cmake --build $(BUILD)

$(RELEASE_BUILD)/build.ninja: | deps
	cmake -S . -B $(RELEASE_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_FLAGS)

release: $(RELEASE_BUILD)/build.ninja
	@$(call RECONFIGURE,$(RELEASE_BUILD))
	cmake --build $(RELEASE_BUILD) --target $(RELEASE_TARGETS)

$(ASAN_BUILD)/build.ninja: | deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DMN_SANITIZE=ON $(CMAKE_FLAGS)

asan: $(ASAN_BUILD)/build.ninja
	@$(call RECONFIGURE,$(ASAN_BUILD))
	cmake --build $(ASAN_BUILD)

$(FUZZ_BUILD)/build.ninja: | deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug \
	    -DMN_FUZZ=ON $(CMAKE_FLAGS)

fuzz: $(FUZZ_BUILD)/build.ninja
	@$(call RECONFIGURE,$(FUZZ_BUILD))
	cmake --build $(FUZZ_BUILD)

demo: build
	$(BUILD)/bin/$(DEMO) runserver 127.0.0.1:$(PORT)

TALLY := $(BUILD)/test-tally.txt

test-unit: build
	@scripts/run-tests $(BUILD) 'unit|integration' $(TALLY)

test-asan: asan
	@scripts/run-tests $(ASAN_BUILD) 'unit|integration' $(TALLY)

test-fuzz: fuzz
	@scripts/run-tests $(FUZZ_BUILD) fuzz $(TALLY)

# Every suite runs even when an earlier one fails; the last line is the total.
test:
	@rm -f $(TALLY)
	@$(MAKE) --no-print-directory test-unit
	@$(MAKE) --no-print-directory test-asan
	@$(MAKE) --no-print-directory test-fuzz
	@awk '{p += $$2; f += $$3; print "  " $$1 ": " $$2 " passed, " $$3 " failed"} \
	     END {print "total: " p " passed, " f " failed"; exit (f > 0)}' $(TALLY)

bench: release
	bench/run --build $(RELEASE_BUILD) --out $(BUILD)/bench-results.json

techempower: release
	PORT=$(PORT) WORKERS=$(WORKERS) $(RELEASE_BUILD)/bin/techempower serve 0.0.0.0:$(PORT) --workers $(WORKERS)

install: build
	cmake --install $(BUILD) --prefix $(PREFIX)

format: deps
	@git ls-files '*.c' '*.h' | grep -v '^tests/fuzz/corpus/' | xargs clang-format -i

clean:
	rm -rf $(BUILD)
