# The two commands of the README: `make demo` and `make check`.
# Both install what is missing (scripts/install-deps), then build.

BUILD ?= build
ASAN ?= build-asan
FUZZ ?= build-fuzz

.PHONY: all deps build check demo format format-check clean bench

all: build

deps:
	@scripts/install-deps

# The development build: warnings are errors; fault-injection points are
# compiled in for the power-cut tests (they do nothing unless a test sets
# VOUCH_FAULT_CUT_AT).
build: deps
	@test -f $(BUILD)/build.ninja || meson setup $(BUILD) -Dwerror=true -Dfault_injection=true
	@ninja -C $(BUILD)

check: build
	@scripts/check

demo: build
	@scripts/demo

format:
	@clang-format -i $$(git ls-files '*.c' '*.h')

format-check:
	@clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN) $(FUZZ)
