# pickaxe — every target installs its dependencies and builds first.
BUILD_DIR   ?= build
FUZZ_DIR    ?= build-fuzz
JOBS        ?= $(shell nproc)
FUZZ_SECONDS ?= 60

ASAN_DIR    ?= build-asan

.PHONY: all deps build program install deb deb-test run test conformance sanitize bench fuzz format clean

all: build

deps:
	@bash scripts/install-deps.sh

# WERROR=ON makes compiler warnings errors (CI sets it).
WERROR      ?= OFF
PREFIX      ?= /usr/local

$(BUILD_DIR)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Release -DPICKAXE_WERROR=$(WERROR)

build: deps $(BUILD_DIR)/build.ninja
	cmake -S . -B $(BUILD_DIR) -DPICKAXE_WERROR=$(WERROR) > /dev/null
	cmake --build $(BUILD_DIR) -j $(JOBS)

# The program alone (what `make run` needs).
program: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target pickaxe

# The program, its rules, examples, man pages and completions under PREFIX.
install: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target pickaxe pickaxe_docs
	cmake --install $(BUILD_DIR) --prefix $(PREFIX)

# A Debian package (CPack) in $(BUILD_DIR): pickaxe_VERSION_ARCH.deb.
deb: deps $(BUILD_DIR)/build.ninja
	cmake --build $(BUILD_DIR) -j $(JOBS) --target pickaxe pickaxe_docs
	cd $(BUILD_DIR) && cpack -G DEB

# The package installed with apt in a fresh Debian bookworm chroot (debootstrap;
# needs root and the Debian mirror), where it hunts the bundled examples.
deb-test: deb
	bash tests/deb_test.sh $(BUILD_DIR)

# The main job on bundled data: lint the bundled rule packs, hunt with them
# (the EQL pack, then its Sigma rules) through the sample events and show the
# alerts in a table, then replay the seed's five tests and the benign
# baselines (pickaxe validate).
run: program
	./$(BUILD_DIR)/pickaxe lint rules
	./$(BUILD_DIR)/pickaxe hunt --format table examples/events.ndjson examples/audit.log examples/sysmon.log
	./$(BUILD_DIR)/pickaxe hunt --rules rules/sigma --format table examples/events.ndjson examples/audit.log examples/sysmon.log
	./$(BUILD_DIR)/pickaxe scan --format table emulations/3-malicious-image-pull/image.oci.tar
	./$(BUILD_DIR)/pickaxe validate

test: build
	ctest --test-dir $(BUILD_DIR) --output-on-failure -j $(JOBS)

# The whole test suite built with AddressSanitizer and UBSan.
sanitize: deps
	cmake -S . -B $(ASAN_DIR) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DPICKAXE_SANITIZE=ON -DPICKAXE_BENCH=OFF
	cmake --build $(ASAN_DIR) -j $(JOBS)
	ctest --test-dir $(ASAN_DIR) --output-on-failure -j $(JOBS)

# Elasticsearch's EQL spec tests and python-eql's queries through pickaxe,
# with the pass/fail table (needs ../shared/conformance).
conformance: build
	./$(BUILD_DIR)/pickaxe_tests --gtest_filter='EqlSpec.*'

# Micro-benchmarks, then hunt end to end against the parse limit (1 M events,
# generated once into bench/data/; BENCH_EVENTS and BENCH_RUNS change that),
# then watch under 20 k events/s appended for WATCH_SECONDS, then the fleet
# (ship, 1 and 2 serve workers, a local nats-server) over FLEET_EVENTS.
BENCH_EVENTS ?= 1000000
BENCH_RUNS ?= 5
WATCH_SECONDS ?= 60
FLEET_EVENTS ?= 300000
bench: build
	./$(BUILD_DIR)/pickaxe_bench --benchmark_counters_tabular=true
	python3 bench/run_bench.py --build $(BUILD_DIR) --events $(BENCH_EVENTS) --runs $(BENCH_RUNS)
	python3 bench/watch_bench.py --build $(BUILD_DIR) --events bench/data/events-$(BENCH_EVENTS).ndjson --seconds $(WATCH_SECONDS)
	python3 bench/scan_bench.py --build $(BUILD_DIR)
	python3 bench/fleet_bench.py --build $(BUILD_DIR) --events bench/data/events-$(BENCH_EVENTS).ndjson --count $(FLEET_EVENTS)

# libFuzzer with ASan+UBSan: the EQL parser for FUZZ_SECONDS seconds, then the
# rule-file loader and the event pipeline for a third of that each. New inputs go to a scratch folder; the
# checked-in corpora are read only.
FUZZ_FLAGS = -timeout=10 -rss_limit_mb=2048 -max_len=8192 -dict=fuzz/eql.dict \
             -artifact_prefix=fuzz/artifacts/ -print_final_stats=1
DECODERS = auditd sysmon cloudtrail docker
fuzz: deps
	CC=clang CXX=clang++ cmake -S . -B $(FUZZ_DIR) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DPICKAXE_FUZZ=ON -DPICKAXE_TESTS=OFF -DPICKAXE_BENCH=OFF
	cmake --build $(FUZZ_DIR) -j $(JOBS) --target fuzz_eql_parser fuzz_rule_loader fuzz_query_stream fuzz_query_state fuzz_date_format \
	  fuzz_compressed fuzz_image \
	  $(addprefix fuzz_,$(DECODERS))
	mkdir -p $(FUZZ_DIR)/new-parser $(FUZZ_DIR)/new-rules $(FUZZ_DIR)/new-events $(FUZZ_DIR)/new-dates $(FUZZ_DIR)/new-compressed $(FUZZ_DIR)/new-states $(FUZZ_DIR)/new-images fuzz/artifacts \
	  $(addprefix $(FUZZ_DIR)/new-,$(DECODERS))
	./$(FUZZ_DIR)/fuzz_eql_parser -max_total_time=$(FUZZ_SECONDS) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-parser fuzz/corpus/parser
	./$(FUZZ_DIR)/fuzz_rule_loader -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-rules fuzz/corpus/rules
	./$(FUZZ_DIR)/fuzz_query_stream -max_total_time=$$(( $(FUZZ_SECONDS) / 3 + 1 )) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-events fuzz/corpus/events
	./$(FUZZ_DIR)/fuzz_query_state -max_total_time=$$(( $(FUZZ_SECONDS) / 6 + 1 )) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-states fuzz/corpus/states
	./$(FUZZ_DIR)/fuzz_date_format -max_total_time=$$(( $(FUZZ_SECONDS) / 6 + 1 )) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-dates fuzz/corpus/dates
	./$(FUZZ_DIR)/fuzz_compressed -max_total_time=$$(( $(FUZZ_SECONDS) / 6 + 1 )) $(FUZZ_FLAGS) \
	  $(FUZZ_DIR)/new-compressed fuzz/corpus/compressed
	./$(FUZZ_DIR)/fuzz_image -max_total_time=$$(( $(FUZZ_SECONDS) / 6 + 1 )) $(FUZZ_FLAGS) -max_len=65536 \
	  $(FUZZ_DIR)/new-images fuzz/corpus/images
	for decoder in $(DECODERS); do \
	  ./$(FUZZ_DIR)/fuzz_$$decoder -max_total_time=$$(( $(FUZZ_SECONDS) / 6 + 1 )) $(FUZZ_FLAGS) \
	    $(FUZZ_DIR)/new-$$decoder fuzz/corpus/$$decoder || exit 1; \
	done

format:
	clang-format -i $$(git ls-files '*.cpp' '*.h' '*.cpp.in')

clean:
	rm -rf $(BUILD_DIR) $(FUZZ_DIR) $(ASAN_DIR)
