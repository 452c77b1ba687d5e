# hakmem — build, configure, test, benchmark, install.
#
#   make                  build/libhakmem.a and build/libhakmem.so with .config (or config/defconfig if none)
#   make run              build and run the main demo (examples/per_subsystem.c)
#   make test             install what tests need, run the suite for every config/*defconfig, ASan+UBSan, menuconfig
#   make bench            install the peer allocators, run bench/random_mixed, print ratios
#   make menuconfig | defconfig | NAME_defconfig | olddefconfig | savedefconfig
#   make install [PREFIX=/usr/local] [DESTDIR=]    header, both libraries, hakmem.pc
#
# Variables: BUILD (output dir), CONFIG_SRC (a defconfig to build with instead of .config), SAN=1 (ASan+UBSan).

BUILD      ?= build
PREFIX     ?= /usr/local
CC         ?= cc
KCONFIG    := scripts/kconfig.sh
SHELL      := /bin/bash
comma      := ,
.DEFAULT_GOAL := all

# ---- which configuration -------------------------------------------------------------------------------------
ifdef CONFIG_SRC
  CONFIG_FILE := $(BUILD)/.config
else ifneq ($(wildcard .config),)
  CONFIG_FILE := .config
else
  CONFIG_SRC  := config/defconfig
  CONFIG_FILE := $(BUILD)/.config
  ifeq ($(filter menuconfig defconfig %_defconfig olddefconfig savedefconfig clean help,$(MAKECMDGOALS)),)
    $(info hakmem: no .config, building with config/defconfig (make menuconfig to change it))
  endif
endif

AUTOCONF := $(BUILD)/generated/autoconf.h

ifneq ($(CONFIG_FILE),.config)
$(CONFIG_FILE): $(CONFIG_SRC) Kconfig | $(BUILD)
	@KCONFIG_CONFIG=$@ $(KCONFIG) defconfig --kconfig Kconfig $(CONFIG_SRC) >/dev/null
endif

$(AUTOCONF): $(CONFIG_FILE) Kconfig
	@mkdir -p $(dir $@)
	@if grep -q '^CONFIG_HAK_PLATFORM_FREESTANDING=y' $(CONFIG_FILE); then \
	    echo "hakmem: the freestanding platform is planned (issue 6); choose Linux in menuconfig" >&2; exit 1; fi
	@KCONFIG_CONFIG=$(CONFIG_FILE) $(KCONFIG) genconfig --header-path $@ Kconfig
	@touch $@

# ---- flags ---------------------------------------------------------------------------------------------------
OPT        ?= -O2 -g
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SANFLAGS   := $(if $(SAN),-fsanitize=address$(comma)undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
CPPFLAGS   += -I. -Iinclude -I$(BUILD)/generated -DHAK_HAVE_AUTOCONF
CFLAGS     ?= $(OPT)
ALL_CFLAGS := -std=c11 $(WARN) -fPIC -fvisibility=hidden -fno-semantic-interposition $(CFLAGS) $(SANFLAGS)
LDLIBS_T   := -lcriterion -pthread

CORE_SRC   := $(wildcard arena/*.c)
PLAT_SRC   := $(wildcard platform/linux/*.c)
LIB_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC) $(PLAT_SRC))
HEADERS    := include/hakmem.h config/hak_config.h platform/platform.h arena/internal.h

.PHONY: all run test check-one test-deps menuconfig defconfig olddefconfig savedefconfig bench install clean help

all: $(BUILD)/libhakmem.a $(BUILD)/libhakmem.so

$(BUILD):
	@mkdir -p $@

$(BUILD)/obj/%.o: %.c $(HEADERS) $(AUTOCONF)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# The core may include nothing but the freestanding C headers (plus the project's own).
$(BUILD)/obj/arena/%.o: arena/%.c $(HEADERS) $(AUTOCONF)
	@mkdir -p $(dir $@)
	@if grep -n '#include <' $< | grep -vE '<(stddef|stdint|stdbool|stdatomic|string)\.h>'; then \
	    echo "$<: the core includes only stddef/stdint/stdbool/stdatomic/string" >&2; exit 1; fi
	@echo "  CC      $<"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libhakmem.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BUILD)/libhakmem.so: $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared $(SANFLAGS) -o $@ $^

# ---- the demo --------------------------------------------------------------------------------------------------
$(BUILD)/examples/%: examples/%.c $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libhakmem.a -pthread

run: $(BUILD)/examples/per_subsystem
	./$(BUILD)/examples/per_subsystem

# ---- tests -----------------------------------------------------------------------------------------------------
TEST_SRC := $(wildcard tests/*.c)
TEST_BIN := $(BUILD)/tests/hakmem_tests

$(TEST_BIN): $(TEST_SRC) tests/model.h $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes $(TEST_SRC) -o $@ $(BUILD)/libhakmem.a $(LDLIBS_T)

check-one: $(TEST_BIN)
	@echo "== tests: $(CONFIG_SRC)$(if $(SAN), with ASan+UBSan) =="
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./$(TEST_BIN) --jobs 2

TEST_CONFIGS := $(sort $(wildcard config/*defconfig))

test: test-deps
	@set -e; for c in $(TEST_CONFIGS); do \
	    $(MAKE) --no-print-directory BUILD=build/test/$$(basename $$c) CONFIG_SRC=$$c check-one; done
	@$(MAKE) --no-print-directory BUILD=build/test/asan-ubsan CONFIG_SRC=config/debug_defconfig SAN=1 check-one
	@$(MAKE) --no-print-directory BUILD=build/test/asan-ubsan-fast CONFIG_SRC=config/defconfig SAN=1 check-one
	@scripts/test_kconfig.sh
	@echo "== all tests passed =="

# Installs what the tests need when it is missing (Debian packages; needs root).
test-deps:
	@missing=""; \
	echo '#include <criterion/criterion.h>' | $(CC) -E -x c - >/dev/null 2>&1 || missing="$$missing libcriterion-dev"; \
	{ python3 -c 'import kconfiglib' 2>/dev/null || /usr/bin/python3 -c 'import kconfiglib' 2>/dev/null; } || \
	    missing="$$missing python3-kconfiglib"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	if [ -n "$$missing" ]; then \
	    echo "hakmem: installing$$missing"; \
	    $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; }; fi

# ---- benchmarks ------------------------------------------------------------------------------------------------
BENCH_FLAGS := -std=c11 -O2 -g -Wall -Wextra -Werror -Iinclude

bench-deps:
	@[ -f /usr/include/mimalloc.h ] || { echo "hakmem: installing libmimalloc-dev"; \
	    apt-get install -y -q libmimalloc-dev >/dev/null || { apt-get update -q >/dev/null && \
	    apt-get install -y -q libmimalloc-dev >/dev/null; }; }

$(BUILD)/bench/random_mixed_hakmem: bench/random_mixed.c bench/bench.h $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) -DBENCH_HAKMEM $< -o $@ $(BUILD)/libhakmem.a -pthread

$(BUILD)/bench/random_mixed_glibc: bench/random_mixed.c bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) -DBENCH_GLIBC $< -o $@

$(BUILD)/bench/random_mixed_mimalloc: bench/random_mixed.c bench/bench.h | bench-deps
	@mkdir -p $(dir $@)
	$(CC) $(BENCH_FLAGS) -DBENCH_MIMALLOC $< -o $@ -lmimalloc

BENCH_BINS := $(addprefix $(BUILD)/bench/random_mixed_,hakmem glibc mimalloc)
RUNS       ?= 7

bench: bench-deps $(BENCH_BINS)
	@/usr/bin/python3 bench/run.py --bin-dir $(BUILD)/bench --runs $(RUNS)

# ---- Kconfig ---------------------------------------------------------------------------------------------------
menuconfig:
	@[ -f .config ] || KCONFIG_CONFIG=.config $(KCONFIG) defconfig --kconfig Kconfig config/defconfig >/dev/null
	@KCONFIG_CONFIG=.config $(KCONFIG) menuconfig Kconfig

defconfig:
	@KCONFIG_CONFIG=.config $(KCONFIG) defconfig --kconfig Kconfig config/defconfig

%_defconfig: config/%_defconfig
	@KCONFIG_CONFIG=.config $(KCONFIG) defconfig --kconfig Kconfig $<

olddefconfig:
	@KCONFIG_CONFIG=.config $(KCONFIG) olddefconfig Kconfig

savedefconfig:
	@KCONFIG_CONFIG=.config $(KCONFIG) savedefconfig --kconfig Kconfig --out defconfig
	@echo "hakmem: wrote ./defconfig (copy it into config/ to keep it)"

# ---- install ---------------------------------------------------------------------------------------------------
VERSION = $(shell awk '/HAKMEM_VERSION_(MAJOR|MINOR|PATCH) /{v=v (v?".":"") $$3} END{print v}' include/hakmem.h)

install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/hakmem.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libhakmem.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libhakmem.so $(DESTDIR)$(PREFIX)/lib/
	printf 'prefix=%s\nlibdir=$${prefix}/lib\nincludedir=$${prefix}/include\n\nName: hakmem\nDescription: %s\nVersion: %s\nLibs: -L$${libdir} -lhakmem\nLibs.private: -pthread\nCflags: -I$${includedir}\n' \
	    '$(PREFIX)' 'explicit-arena memory allocator' '$(VERSION)' > $(DESTDIR)$(PREFIX)/lib/pkgconfig/hakmem.pc

clean:
	rm -rf build

help:
	@sed -n '2,12p' Makefile
