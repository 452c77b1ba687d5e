# hakmem — build, configure, test, benchmark, install.
#
#   make                  build/libhakmem.a and build/libhakmem.so with .config (or config/defconfig if none);
#                         a freestanding config builds build/libhakmem.a for its target (cross compiler from Kconfig)
#   make size             text/data/bss of the library for the configured target
#   make run              build and run the main demo (examples/per_subsystem.c)
#   make run-capped       the capped-container demo, inside a 64 MiB memory cgroup when one can be made
#   make test             install what tests need, run the suite for every host config/*defconfig, ASan+UBSan,
#                         menuconfig, TSan, valgrind, the shim on real programs, the cross targets and the firmware
#                         under QEMU (test-targets)
#   make bench [QUICK=1]  install the peer allocators, run every bench/ workload, rewrite bench/RESULTS.md
#   make bench-static-pool  utilisation and instructions per call on static pools (issue 6)
#   make fuzz [FUZZ_SECONDS=60]   libFuzzer over the whole API with ASan+UBSan
#   make shim             build/libhakmem-malloc.so (LD_PRELOAD) and .a (link in; C++: -Wl,--whole-archive)
#   make fw-run | fw-size the Cortex-M4 firmware test image under qemu-system-arm | its size
#   make test-shim | test-tsan | test-valgrind | test-cgroup | test-model | test-m32 | test-targets
#                         parts of make test on their own
#   make bench-profile    callgrind instructions per hak_alloc/hak_free call on random_mixed
#   make clean | distclean   remove build/ (and hakmem's outputs in BUILD) | also .config and ./defconfig
#   make menuconfig | defconfig | NAME_defconfig | olddefconfig | savedefconfig   (on their own, not with a build)
#   make install | uninstall [PREFIX=/usr/local] [LIBDIR=PREFIX/lib] [DESTDIR=]   header, libraries (libhakmem.so
#                         with its soname libhakmem.so.MAJOR), the malloc shim, hakmem.pc
#
# Variables: BUILD (output dir), CONFIG_SRC (a defconfig to build with instead of .config), SAN=1 (ASan+UBSan),
# CFLAGS, CPPFLAGS and LDFLAGS (added to the project's own).

BUILD      ?= build
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
CC         ?= cc
KCONFIG    := scripts/kconfig.sh
SHELL      := /bin/bash
comma      := ,
.DEFAULT_GOAL := all

# ---- which configuration -------------------------------------------------------------------------------------
# Configuration goals change .config, which this make has already read: they run on their own.
CONFIG_GOALS := menuconfig defconfig %_defconfig olddefconfig savedefconfig
ifneq ($(and $(filter $(CONFIG_GOALS),$(MAKECMDGOALS)),$(filter-out $(CONFIG_GOALS),$(MAKECMDGOALS))),)
  $(error hakmem: configuration goals run on their own: make $(filter $(CONFIG_GOALS),$(MAKECMDGOALS)), then \
    make $(filter-out $(CONFIG_GOALS),$(MAKECMDGOALS)))
endif
ifneq ($(CONFIG_SRC),)
  ifeq ($(wildcard $(CONFIG_SRC)),)
    $(error hakmem: CONFIG_SRC=$(CONFIG_SRC) does not exist; the ready ones: $(wildcard config/*defconfig))
  endif
endif
ifdef CONFIG_SRC
  CONFIG_FILE := $(BUILD)/.config
else ifneq ($(wildcard .config),)
  CONFIG_FILE := .config
else
  CONFIG_SRC  := config/defconfig
  CONFIG_FILE := $(BUILD)/.config
  ifeq ($(filter $(CONFIG_GOALS) clean distclean help uninstall,$(MAKECMDGOALS)),)
    $(info hakmem: no .config, building with config/defconfig (make menuconfig to change it))
  endif
endif

AUTOCONF := $(BUILD)/generated/autoconf.h
.DELETE_ON_ERROR: # (a configuration kconfig refused is not left behind for the next make to use)

# Where the build directory's configuration comes from (.config, or a defconfig), kept in a stamp that is rewritten
# only when it changes: switching CONFIG_SRC or removing .config regenerates $(BUILD)/.config and autoconf.h, which
# their timestamps alone would not. Until then the platform is read from the new source itself.
same         = $(and $(findstring x$(1),x$(2)),$(findstring x$(2),x$(1)))
CONFIG_FROM := $(if $(filter .config,$(CONFIG_FILE)),.config,$(CONFIG_SRC))
CONFIG_STAMP := $(BUILD)/.config-src
CONFIG_STALE := $(if $(call same,$(CONFIG_FROM),$(file <$(CONFIG_STAMP))),,1)
$(CONFIG_STAMP): FORCE | $(BUILD)
	$(if $(CONFIG_STALE),$(file >$@,$(CONFIG_FROM)))

ifneq ($(CONFIG_FILE),.config)
$(CONFIG_FILE): $(CONFIG_SRC) Kconfig $(CONFIG_STAMP) | $(BUILD)
	@KCONFIG_CONFIG=$@ $(KCONFIG) defconfig --kconfig Kconfig $(CONFIG_SRC) >/dev/null
endif

$(AUTOCONF): $(CONFIG_FILE) Kconfig $(CONFIG_STAMP)
	@mkdir -p $(dir $@)
	@KCONFIG_CONFIG=$(CONFIG_FILE) $(KCONFIG) genconfig --header-path $@ Kconfig
	@touch $@

# The build directory's configuration is read as a makefile too, so that when the rule above regenerates it (its
# defconfig was edited), make starts over and takes the platform, compiler and sources from the new one.
ifneq ($(CONFIG_FILE),.config)
  ifneq ($(filter-out $(CONFIG_GOALS) clean distclean help uninstall,$(or $(MAKECMDGOALS),all)),)
    -include $(CONFIG_FILE)
  endif
endif

# ---- the platform: Linux, or freestanding (possibly cross-compiled), read from the configuration ----------------
# (.config, or the defconfig being built: a defconfig lists every value that differs from Kconfig's defaults)
CONFIG_READ := $(if $(and $(CONFIG_STALE),$(CONFIG_SRC)),$(CONFIG_SRC),$(firstword $(wildcard $(CONFIG_FILE)) $(CONFIG_SRC)))
config_str   = $(shell sed -n 's/^$(1)="\(.*\)"$$/\1/p' $(CONFIG_READ) 2>/dev/null)
FREESTANDING := $(if $(CONFIG_READ),$(shell grep -q '^CONFIG_HAK_PLATFORM_FREESTANDING=y' $(CONFIG_READ) && echo 1))
ifeq ($(FREESTANDING),1)
  CROSS      := $(call config_str,CONFIG_HAK_CROSS_COMPILE)
  ifneq ($(CROSS),)
    CC       := $(CROSS)gcc
    AR       := $(CROSS)ar
    OPT      ?= -Os -g
  endif
  TARGET_CFLAGS := $(call config_str,CONFIG_HAK_TARGET_CFLAGS) -ffreestanding -fno-builtin
endif

# ---- flags ---------------------------------------------------------------------------------------------------
OPT        ?= -O2 -g
WARN       := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
SANFLAGS   := $(if $(SAN),-fsanitize=address$(comma)undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
# The project's preprocessor flags, then the caller's (CPPFLAGS itself is left as given: make exports it to the
# sub-makes of other build directories, which must not see this one's generated headers first).
HAK_CPPFLAGS := -I. -Iinclude -I$(BUILD)/generated -DHAK_HAVE_AUTOCONF $(CPPFLAGS)
CFLAGS     ?= $(OPT)
PIC        := $(if $(CROSS),,-fPIC)
# Each function and object in its own section: a program linked with -Wl,--gc-sections keeps only what it calls.
ALL_CFLAGS := -std=c11 $(WARN) $(PIC) -fvisibility=hidden -fno-semantic-interposition -ffunction-sections \
              -fdata-sections $(TARGET_CFLAGS) $(CFLAGS) $(SANFLAGS)
LDLIBS_T   := -lcriterion -pthread

# The block layout: size classes in SuperSlabs, or (Kconfig HAK_COMPACT, freestanding) one best-fit heap per chunk.
SLAB_SRC   := arena/alloc.c arena/check.c arena/large.c arena/small.c arena/superslab.c
COMPACT    := $(if $(FREESTANDING),$(shell grep -q '^CONFIG_HAK_COMPACT=y' $(CONFIG_READ) && echo 1))
ifeq ($(COMPACT),1)
  CORE_SRC := $(filter-out $(SLAB_SRC),$(wildcard arena/*.c))
else
  CORE_SRC := $(filter-out arena/compact.c,$(wildcard arena/*.c))
endif
ifeq ($(FREESTANDING),1)
  PLAT_SRC := platform/freestanding/platform_freestanding.c
  PLAT_SRC += $(if $(shell grep -q '^\# CONFIG_HAK_FS_OWN_LIBC is not set' $(CONFIG_READ) && echo n),,platform/freestanding/libc.c)
else
  PLAT_SRC := $(wildcard platform/linux/*.c)
endif
PLAT_SRC   += platform/extents.c # (the free-extent list of pools and freestanding regions)
LIB_OBJ    := $(patsubst %.c,$(BUILD)/obj/%.o,$(CORE_SRC) $(PLAT_SRC))
HEADERS    := include/hakmem.h config/hak_config.h $(wildcard platform/*.h platform/*/*.h) arena/internal.h

.PHONY: all size link-check run run-capped fuzz test-valgrind test-model test-m32 test-pools-only m32-deps test-cgroup test-stress test-tsan test check-one test-deps menuconfig defconfig olddefconfig savedefconfig bench install uninstall clean distclean help

ifeq ($(FREESTANDING),1)
all: $(BUILD)/libhakmem.a
else
all: $(BUILD)/libhakmem.a $(BUILD)/libhakmem.so shim
endif

# Code size of the library for the configured target (text/data/bss per object and in total).
size: $(BUILD)/libhakmem.a
	@$(if $(CROSS),$(CROSS)size,size) -t $<

$(BUILD):
	@mkdir -p $@

# The compiler command the objects were built with: rewritten (and so newer than them) only when it changes, so that
# `make CFLAGS=...` or SAN=1 on an existing build directory rebuilds the library instead of mixing flags.
FLAGS_NOW = $(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $(LDFLAGS)
$(BUILD)/.flags: FORCE | $(BUILD) # (the directory first: make expands the whole recipe before running it)
	$(if $(call same,$(FLAGS_NOW),$(file <$@)),,$(file >$@,$(FLAGS_NOW)))

$(BUILD)/obj/%.o: %.c $(HEADERS) $(AUTOCONF) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

# The core may include nothing but the freestanding C headers (plus the project's own).
$(BUILD)/obj/arena/%.o: arena/%.c $(HEADERS) $(AUTOCONF) $(BUILD)/.flags
	@mkdir -p $(dir $@)
	@if grep -n '#include <' $< | grep -vE '<(stddef|stdint|stdbool|stdatomic)\.h>'; then \
	    echo "$<: the core includes only stddef/stdint/stdbool/stdatomic" >&2; exit 1; fi
	@echo "  CC      $<"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libhakmem.a: $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

# libhakmem.so.MAJOR.MINOR.PATCH with its soname libhakmem.so.MAJOR, and the two links to it.
VERSION   := $(shell awk '/HAKMEM_VERSION_(MAJOR|MINOR|PATCH) /{v=v (v?".":"") $$3} END{print v}' include/hakmem.h)
SO_MAJOR  := $(firstword $(subst ., ,$(VERSION)))
$(BUILD)/libhakmem.so.$(VERSION): $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,-soname,libhakmem.so.$(SO_MAJOR) -o $@ $^

$(BUILD)/libhakmem.so: $(BUILD)/libhakmem.so.$(VERSION)
	@ln -sf libhakmem.so.$(VERSION) $@.$(SO_MAJOR)
	@ln -sf libhakmem.so.$(VERSION) $@

# ---- the demo --------------------------------------------------------------------------------------------------
# Host programs (the demos, the malloc shim) need the Linux platform: a clear refusal, not a cross compiler's error.
HOST_ONLY = $(if $(filter 1,$(FREESTANDING)),$(error hakmem: $@ needs a Linux configuration; this one \
              ($(or $(CONFIG_SRC),$(CONFIG_FILE))) is freestanding))

$(BUILD)/examples/%: examples/%.c $(BUILD)/libhakmem.a
	@$(HOST_ONLY)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libhakmem.a -pthread

run: $(BUILD)/examples/per_subsystem
	./$(BUILD)/examples/per_subsystem

# The capped-container demo, inside a 64 MiB memory cgroup when one can be made (root), else under a 48 MiB budget.
run-capped: $(BUILD)/examples/capped_container
	@cg=""; for root in $$(awk '{t = 7; while (t < NF && $$t != "-") t++} \
	    $$(t + 1) == "cgroup" && $$NF ~ /(^|,)memory(,|$$)/ {print $$5} $$(t + 1) == "cgroup2" {print $$5}' /proc/self/mountinfo); do \
	    d="$$root/hakmem-demo-$$$$"; mkdir "$$d" 2>/dev/null || continue; \
	    if { echo $$((64 << 20)) > "$$d/memory.max" || echo $$((64 << 20)) > "$$d/memory.limit_in_bytes"; } 2>/dev/null; \
	    then cg="$$d"; break; else rmdir "$$d"; fi; done; \
	if [ -n "$$cg" ]; then echo "hakmem: running in cgroup $$cg (64 MiB)"; \
	    sh -c 'echo $$$$ > "$$0/cgroup.procs" && exec "$$1"' "$$cg" ./$(BUILD)/examples/capped_container; rc=$$?; rmdir "$$cg"; exit $$rc; \
	else echo "hakmem: no memory cgroup can be made here; running under a 48 MiB budget instead"; \
	    ./$(BUILD)/examples/capped_container; fi

# ---- tests -----------------------------------------------------------------------------------------------------
# test_internals.c reads the size-class layout's structures, test_compact.c the compact layout's.
TEST_SRC := $(filter-out tests/$(if $(COMPACT),test_internals,test_compact).c,$(wildcard tests/*.c)) \
            $(if $(FREESTANDING),tests/freestanding/posix_shim.c)
TEST_BIN := $(BUILD)/tests/hakmem_tests

# Test programs run on the host: a cross-compiled configuration is refused with a clear message.
HOST_RUN = $(if $(CROSS),$(error hakmem: $@ runs on the host; this configuration ($(or $(CONFIG_SRC),$(CONFIG_FILE))) \
             is cross-compiled for $(CROSS:-=) (make test-targets tests such builds)))

$(TEST_BIN): $(TEST_SRC) tests/model.h tests/geometry.h $(HEADERS) $(BUILD)/libhakmem.a
	@$(HOST_RUN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes $(TEST_SRC) -o $@ $(BUILD)/libhakmem.a $(LDLIBS_T)

check-one: $(TEST_BIN)
	@echo "== tests: $(CONFIG_SRC)$(if $(SAN), with ASan+UBSan) =="
	@ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 ./$(TEST_BIN) --jobs 2

$(BUILD)/tests/cgroup_child: tests/cgroup/child.c tests/rss.h $(BUILD)/libhakmem.a
	@$(HOST_RUN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libhakmem.a -pthread

$(BUILD)/tests/stress: tests/stress/stress.c $(BUILD)/libhakmem.a
	@$(HOST_RUN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(if $(FREESTANDING),tests/freestanding/posix_shim.c) \
	    $(BUILD)/libhakmem.a -pthread

# The thread stress test, once plain and once with ThreadSanitizer over the whole library.
test-stress: $(BUILD)/tests/stress
	@./$(BUILD)/tests/stress
test-tsan:
	@$(MAKE) --no-print-directory BUILD=build/test/tsan CONFIG_SRC=config/defconfig CFLAGS="-O1 -g -fsanitize=thread" \
	    build/test/tsan/tests/stress
	@echo "== stress test with ThreadSanitizer =="
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build/test/tsan/tests/stress
	@$(MAKE) --no-print-directory BUILD=build/test/tsan-compact CONFIG_SRC=config/freestanding_compact_defconfig \
	    CFLAGS="-O1 -g -fsanitize=thread" build/test/tsan-compact/tests/stress
	@echo "== stress test with ThreadSanitizer, compact layout =="
	@TSAN_OPTIONS="halt_on_error=1 exitcode=66" ./build/test/tsan-compact/tests/stress

# libFuzzer over the whole API (tests/fuzz/fuzz_api.c) with ASan+UBSan, on the debug configuration.
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang-14
fuzz:
	@command -v $(FUZZ_CC) >/dev/null || { echo "hakmem: installing clang-14 and libclang-rt-14-dev"; \
	    apt-get install -y -q clang-14 libclang-rt-14-dev >/dev/null || { apt-get update -q >/dev/null && \
	    apt-get install -y -q clang-14 libclang-rt-14-dev >/dev/null; }; }
	@$(MAKE) --no-print-directory BUILD=build/fuzz CONFIG_SRC=config/debug_defconfig CC=$(FUZZ_CC) \
	    CFLAGS="-O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" build/fuzz/libhakmem.a
	@echo "  LD      build/fuzz/fuzz_api"
	@$(FUZZ_CC) -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -I. -Iinclude \
	    -Ibuild/fuzz/generated -DHAK_HAVE_AUTOCONF tests/fuzz/fuzz_api.c build/fuzz/libhakmem.a -o build/fuzz/fuzz_api
	@mkdir -p build/fuzz/corpus
	@echo "== fuzzing for $(FUZZ_SECONDS) s (corpus in build/fuzz/corpus, seeds in tests/fuzz/corpus) =="
	@./build/fuzz/fuzz_api -max_total_time=$(FUZZ_SECONDS) -max_len=4096 -print_final_stats=1 \
	    build/fuzz/corpus tests/fuzz/corpus 2>&1 | grep -E '^#[0-9]+ +(DONE|INITED)|stat::number_of_executed_units|ERROR|SUMMARY|requirement' ; \
	    test $${PIPESTATUS[0]} -eq 0

# The fuzz target's API sequences without libFuzzer: the seed corpus and pseudo-random inputs, checked against
# its model (any build: gcc, -m32).
$(BUILD)/tests/fuzz_driver: tests/fuzz/fuzz_api.c tests/fuzz/driver.c tests/rss.h $(BUILD)/libhakmem.a
	@$(HOST_RUN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes tests/fuzz/fuzz_api.c tests/fuzz/driver.c -o $@ \
	    $(if $(FREESTANDING),tests/freestanding/posix_shim.c) $(BUILD)/libhakmem.a -pthread

test-model: $(BUILD)/tests/fuzz_driver
	@./$(BUILD)/tests/fuzz_driver -random=12000 -max-rss-mb=64 tests/fuzz/corpus/*

# A firmware with no static pool and no region: arenas on pools of their own must still work (their address
# registry leaf cannot come from the platform), and the library must build with HAK_STATIC_POOL_SIZE=0.
$(BUILD)/tests/pools_only: tests/freestanding/pools_only.c tests/freestanding/posix_shim.c $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -Wno-missing-prototypes $(filter %.c,$^) -o $@ $(BUILD)/libhakmem.a

test-pools-only:
	@$(MAKE) --no-print-directory BUILD=build/test/pools-only CONFIG_SRC=tests/freestanding/pools_only_defconfig \
	    build/test/pools-only/tests/pools_only
	@./build/test/pools-only/tests/pools_only

# The 32-bit build (gcc -m32, the pointer width of most firmware): the Criterion suite (against a private copy of
# the i386 Criterion libraries, scripts/m32_criterion.sh), model-checked sequences and the thread stress.
M32_ROOT := build/test/m32-criterion/root
M32_LIBS := $(M32_ROOT)/usr/lib/i386-linux-gnu:$(M32_ROOT)/lib/i386-linux-gnu
m32-deps:
	@echo '#include <sys/cdefs.h>' | $(CC) -m32 -E -x c - >/dev/null 2>&1 || { echo "hakmem: installing gcc-multilib"; \
	    apt-get install -y -q gcc-multilib >/dev/null || { apt-get update -q >/dev/null && \
	    apt-get install -y -q gcc-multilib >/dev/null; }; }

test-m32: m32-deps
	@scripts/m32_criterion.sh build/test/m32-criterion
	@$(MAKE) --no-print-directory BUILD=build/test/m32 CONFIG_SRC=config/defconfig CFLAGS="-m32 -O2 -g" \
	    LDLIBS_T="-L$(M32_ROOT)/usr/lib/i386-linux-gnu -Wl,-rpath-link,$(M32_LIBS) -lcriterion -pthread" \
	    build/test/m32/tests/hakmem_tests build/test/m32/tests/fuzz_driver build/test/m32/tests/stress
	@echo "== 32-bit build =="
	@LD_LIBRARY_PATH=$(M32_LIBS) ./build/test/m32/tests/hakmem_tests --jobs 2
	@./build/test/m32/tests/fuzz_driver -random=3000 tests/fuzz/corpus/*
	@./build/test/m32/tests/stress
	@$(MAKE) --no-print-directory BUILD=build/test/m32-compact CONFIG_SRC=config/freestanding_compact_defconfig \
	    CFLAGS="-m32 -O2 -g" LDLIBS_T="-L$(M32_ROOT)/usr/lib/i386-linux-gnu -Wl,-rpath-link,$(M32_LIBS) -lcriterion -pthread" \
	    build/test/m32-compact/tests/hakmem_tests build/test/m32-compact/tests/fuzz_driver
	@echo "== 32-bit build, compact layout (the word size of a microcontroller) =="
	@LD_LIBRARY_PATH=$(M32_LIBS) ./build/test/m32-compact/tests/hakmem_tests --jobs 2
	@./build/test/m32-compact/tests/fuzz_driver -random=3000 tests/fuzz/corpus/*

# valgrind memcheck, on a build that tells memcheck about hakmem's blocks (Kconfig HAK_VALGRIND, in VG_BUILD): a
# use after free and a leak inside arenas must be reported, a correct program, the Criterion suite and the demos
# must be clean (tests/valgrind/run.sh: what each check requires, what is left out). Installs valgrind if missing.
VG_BUILD ?= build/test/valgrind
VG_PROGS := use_after_free leak clean

$(BUILD)/tests/valgrind/%: tests/valgrind/%.c $(BUILD)/libhakmem.a
	@$(HOST_RUN)
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $< -o $@ $(BUILD)/libhakmem.a -pthread

test-valgrind:
	@{ command -v valgrind && echo '#include <valgrind/memcheck.h>' | $(CC) -E -x c -; } >/dev/null 2>&1 || { \
	    echo "hakmem: installing valgrind"; apt-get install -y -q valgrind >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q valgrind >/dev/null; }; }
	@$(MAKE) --no-print-directory BUILD=$(VG_BUILD) CONFIG_SRC=tests/valgrind/defconfig $(VG_BUILD)/tests/hakmem_tests \
	    $(addprefix $(VG_BUILD)/tests/valgrind/,$(VG_PROGS)) $(VG_BUILD)/examples/per_subsystem \
	    $(VG_BUILD)/examples/capped_container
	@tests/valgrind/run.sh $(VG_BUILD)

test-cgroup: $(BUILD)/tests/cgroup_child $(BUILD)/examples/capped_container
	@scripts/test_cgroup.sh $(BUILD)/tests/cgroup_child $(BUILD)/examples/capped_container

# Host configurations (the Criterion suite runs on each) and cross-compiled targets (test-targets).
TARGET_CONFIGS := $(sort $(shell grep -l '^CONFIG_HAK_CROSS_COMPILE="..*"' config/*defconfig))
TEST_CONFIGS   := $(filter-out $(TARGET_CONFIGS),$(sort $(wildcard config/*defconfig)))

test: test-deps
	@set -e; for c in $(TEST_CONFIGS); do \
	    $(MAKE) --no-print-directory BUILD=build/test/$$(basename $$c) CONFIG_SRC=$$c check-one; done
	@$(MAKE) --no-print-directory BUILD=build/test/asan-ubsan CONFIG_SRC=config/debug_defconfig SAN=1 check-one
	@$(MAKE) --no-print-directory BUILD=build/test/asan-ubsan-fast CONFIG_SRC=config/defconfig SAN=1 check-one
	@scripts/test_kconfig.sh
	@$(MAKE) --no-print-directory BUILD=build/test/shim CONFIG_SRC=config/defconfig test-shim
	@$(MAKE) --no-print-directory BUILD=build/test/defconfig CONFIG_SRC=config/defconfig test-cgroup test-stress
	@$(MAKE) --no-print-directory test-tsan
	@$(MAKE) --no-print-directory BUILD=build/test/defconfig CONFIG_SRC=config/defconfig test-valgrind test-model
	@$(MAKE) --no-print-directory test-m32
	@$(MAKE) --no-print-directory test-pools-only
	@$(MAKE) --no-print-directory test-targets
	@echo "== all tests passed =="

# ---- freestanding targets ----------------------------------------------------------------------------------
# test-targets: every cross-compiled defconfig builds its library (with `make size`) and links into a bare-metal
# program with nothing but libgcc (tests/freestanding/link_check.c, whose size line is what the allocator adds to
# a firmware); then the Cortex-M4 firmware (examples/firmware/) runs the on-target tests under QEMU (mps2-an386)
# twice: over cortex_m4 (the compact layout) and cortex_m4_slabs (size classes).
TARGET_TOOLS := arm-none-eabi-gcc:gcc-arm-none-eabi riscv64-unknown-elf-gcc:gcc-riscv64-unknown-elf \
                qemu-system-arm:qemu-system-arm
FW_CPU := cortex-m4
FW_OUT := build/target/firmware
FW_LIB := build/target/cortex_m4/libhakmem.a # built by test-targets' loop over the cross defconfigs
include examples/firmware/firmware.mk
ifeq ($(origin FW_LIB)$(filter $(BUILD)/libhakmem.a,$(strip $(FW_LIB))),file) # (a FW_LIB given on the command
$(FW_LIB): FORCE # line is the caller's own build: not rebuilt here) so that `make fw-run` works on its own
	@$(MAKE) --no-print-directory BUILD=$(patsubst %/,%,$(dir $@)) CONFIG_SRC=config/cortex_m4_defconfig $@
endif

.PHONY: test-targets target-deps FORCE
target-deps:
	@missing=""; for d in $(TARGET_TOOLS); do command -v $${d%%:*} >/dev/null || missing="$$missing $${d#*:}"; done; \
	if [ -n "$$missing" ]; then echo "hakmem: installing$$missing"; \
	    apt-get install -y -q --no-install-recommends $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; fi

# The bare-metal link check of one target build (BUILD and CONFIG_SRC of a cross defconfig).
link-check: $(BUILD)/libhakmem.a
	@$(CC) -std=c11 -Os $(WARN) -Iinclude $(TARGET_CFLAGS) -nostdlib -nostartfiles -static -Wl,--gc-sections \
	    -Wl,-Ttext=0x80000000 -Wl,-Map=$(BUILD)/link_check.map tests/freestanding/link_check.c $< -lgcc \
	    -o $(BUILD)/link_check.elf
	@$(CROSS)size $(BUILD)/link_check.elf | sed 's|$$|  <- a minimal firmware using hakmem|' | tail -1
	@/usr/bin/python3 scripts/code_size.py $(BUILD)/link_check.map $(notdir $(CORE_SRC:.c=.o)) -- \
	    $(notdir $(PLAT_SRC:.c=.o))

test-targets: target-deps
	@set -eo pipefail; for c in $(TARGET_CONFIGS); do n=$$(basename $$c _defconfig); echo "== target: $$n =="; \
	    $(MAKE) --no-print-directory BUILD=build/target/$$n CONFIG_SRC=$$c all size link-check | tail -3; done
	@$(MAKE) --no-print-directory $(FW_OUT)/hakmem_firmware.elf
	@echo "== firmware tests under qemu-system-arm -M $(FW_MACHINE) (compact layout) =="
	@set -o pipefail; $(FW_QEMU) $(FW_OUT)/hakmem_firmware.elf 2>&1 | grep -v '^ok ' # failures and the summary
	@$(MAKE) --no-print-directory FW_OUT=$(FW_OUT)_slabs FW_LIB=build/target/cortex_m4_slabs/libhakmem.a \
	    $(FW_OUT)_slabs/hakmem_firmware.elf
	@echo "== firmware tests under qemu-system-arm -M $(FW_MACHINE) (size classes) =="
	@set -o pipefail; $(FW_QEMU) $(FW_OUT)_slabs/hakmem_firmware.elf 2>&1 | grep -v '^ok '

# Installs what the tests need when it is missing (Debian packages; needs root).
test-deps: # (probed with the host's compiler: the tests are host programs, whatever .config is for)
	@missing=""; \
	echo '#include <criterion/criterion.h>' | $(if $(CROSS),cc,$(CC)) -E -x c - >/dev/null 2>&1 || \
	    missing="$$missing libcriterion-dev"; \
	{ python3 -c 'import kconfiglib' 2>/dev/null || /usr/bin/python3 -c 'import kconfiglib' 2>/dev/null; } || \
	    missing="$$missing python3-kconfiglib"; \
	command -v tmux >/dev/null || missing="$$missing tmux"; \
	if [ -n "$$missing" ]; then \
	    echo "hakmem: installing$$missing"; \
	    $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q $$missing >/dev/null; }; fi

# ---- malloc shim ---------------------------------------------------------------------------------------------
#   make shim         $(BUILD)/libhakmem-malloc.so (LD_PRELOAD) and $(BUILD)/libhakmem-malloc.a (link it in)
#   make test-shim    the shim's unit suite (tests/shim/), then real programs under LD_PRELOAD against plain runs
# Shim sources get the library's flags; GCC must not treat the functions they define as its malloc builtins.
SHIM_SRC      := shim/malloc.c
SHIM_OBJ      := $(patsubst %.c,$(BUILD)/obj/%.o,$(SHIM_SRC))
SHIM_SO_OBJ   := $(SHIM_OBJ) $(BUILD)/obj/shim/preload.o # (it interposes a libc function: LD_PRELOAD only)
SHIM_NOBUILTIN := -fno-builtin-malloc -fno-builtin-calloc -fno-builtin-realloc -fno-builtin-free
SHIM_TEST_BIN := $(BUILD)/tests/shim_tests

.PHONY: shim test-shim

shim: $(BUILD)/libhakmem-malloc.so $(BUILD)/libhakmem-malloc.a

$(BUILD)/obj/shim/%.o: shim/%.c $(HEADERS) shim/shim.h $(AUTOCONF) $(BUILD)/.flags
	@$(HOST_ONLY)
	@mkdir -p $(dir $@)
	@echo "  CC      $<"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) $(SHIM_NOBUILTIN) -c $< -o $@

$(BUILD)/libhakmem-malloc.a: $(SHIM_OBJ) $(LIB_OBJ)
	@rm -f $@
	@echo "  AR      $@"
	@$(AR) rcs $@ $^

$(BUILD)/libhakmem-malloc.so: $(SHIM_SO_OBJ) $(LIB_OBJ)
	@echo "  LD      $@"
	@$(CC) -shared $(ALL_CFLAGS) $(LDFLAGS) -Wl,--no-undefined -Wl,-Bsymbolic-functions -o $@ $^ -ldl

# (the suite frees on purpose what GCC 12 would call a use after free; clang has no such warning to turn off)
NO_UAF_WARN = $(shell $(CC) -Werror -Wno-use-after-free -E -x c /dev/null >/dev/null 2>&1 && echo -Wno-use-after-free)
$(SHIM_TEST_BIN): tests/shim/test_shim.c $(BUILD)/libhakmem-malloc.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(HAK_CPPFLAGS) $(ALL_CFLAGS) -fno-builtin -Wno-missing-prototypes $(NO_UAF_WARN) $< -o $@ $(BUILD)/libhakmem-malloc.a \
	    $(LDLIBS_T) -ldl

test-shim: test-deps $(SHIM_TEST_BIN) $(BUILD)/libhakmem-malloc.so
	@echo "== shim: unit suite ($(or $(CONFIG_SRC),$(CONFIG_FILE))) =="
	@timeout 600 ./$(SHIM_TEST_BIN) --jobs 2 # (a deadlock fails instead of hanging)
	@echo "== shim: real programs under LD_PRELOAD =="
	@scripts/test_shim_programs.sh $(BUILD)/libhakmem-malloc.so

# ---- benchmarks ------------------------------------------------------------------------------------------------
#   make bench [QUICK=1] [RUNS=n]   build $(BUILD)/bench/bench_<allocator>, run every workload alternating the
#                                   allocators, print the tables, rewrite bench/RESULTS.md and bench/results.png
#   make bench-profile              callgrind instructions per hak_alloc/hak_free call on random_mixed
#   scripts/soak.sh MINUTES         the soak workload (not part of make bench)
BENCH_FLAGS  := -std=c11 -O2 -g -Wall -Wextra -Werror -Wshadow -Iinclude -Wl,--gc-sections # (every driver alike)
BENCH_SRC    := $(wildcard bench/*.c)
BENCH_ALLOCS := hakmem glibc mimalloc jemalloc tcmalloc floor
BENCH_BINS   := $(addprefix $(BUILD)/bench/bench_,$(BENCH_ALLOCS) hakmem_static hakmem_a)
BENCH_LIBS_mimalloc := -lmimalloc
BENCH_LIBS_jemalloc := -ljemalloc
BENCH_LIBS_tcmalloc := -ltcmalloc_minimal
BENCH_DEPS   := /usr/include/mimalloc.h:libmimalloc-dev /usr/include/jemalloc/jemalloc.h:libjemalloc-dev \
                /usr/include/gperftools/tcmalloc.h:libgoogle-perftools-dev /usr/bin/gnuplot:gnuplot-nox
RUNS         ?= $(if $(QUICK),5,7)

.PHONY: bench-deps bench-profile bench-static-pool

# Installs the peer allocators and gnuplot when missing (Debian packages; needs root).
bench-deps:
	@missing=""; for d in $(BENCH_DEPS); do [ -e "$${d%%:*}" ] || missing="$$missing $${d#*:}"; done; \
	if [ -n "$$missing" ]; then \
	    echo "hakmem: installing$$missing"; \
	    $(if $(filter 0,$(shell id -u)),,sudo) apt-get install -y -q --no-install-recommends $$missing >/dev/null || \
	    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $$missing >/dev/null; }; fi

# hakmem's driver calls libhakmem.so, as the peers' call their shared libraries (a static link saved hakmem the
# PLT jump of every call, ~2% of random_mixed); bench_hakmem_a links libhakmem.a, the reference of static_pool.
$(BUILD)/bench/bench_hakmem: $(BENCH_SRC) bench/bench.h bench/alloc.h $(BUILD)/libhakmem.so
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(BENCH_FLAGS) -DBENCH_HAKMEM $(BENCH_SRC) -o $@ -L$(BUILD) -lhakmem -Wl,-rpath,$(abspath $(BUILD)) -pthread

$(BUILD)/bench/bench_hakmem_a: $(BENCH_SRC) bench/bench.h bench/alloc.h $(BUILD)/libhakmem.a
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(BENCH_FLAGS) -DBENCH_HAKMEM $(BENCH_SRC) -o $@ $(BUILD)/libhakmem.a -pthread

# The same driver over the freestanding platform compiled for the host (the static_pool workload).
$(BUILD)/bench/bench_hakmem_static: $(BENCH_SRC) bench/bench.h bench/alloc.h FORCE
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/bench/fs CONFIG_SRC=bench/static_pool/host_64m_defconfig \
	    $(BUILD)/bench/fs/libhakmem.a
	@echo "  LD      $@"
	@$(CC) $(BENCH_FLAGS) -DBENCH_HAKMEM $(BENCH_SRC) -o $@ $(BUILD)/bench/fs/libhakmem.a -pthread

$(BUILD)/bench/bench_%: $(BENCH_SRC) bench/bench.h bench/alloc.h | bench-deps
	@mkdir -p $(dir $@)
	@echo "  LD      $@"
	@$(CC) $(BENCH_FLAGS) -DBENCH_$(shell echo $* | tr a-z A-Z) $(BENCH_SRC) -o $@ $(BENCH_LIBS_$*) -pthread

bench: bench-deps $(BENCH_BINS) $(BUILD)/libhakmem-malloc.so
	@/usr/bin/python3 bench/run.py --bin-dir $(BUILD)/bench --runs $(RUNS) $(if $(QUICK),--quick) \
	    --command "make$(if $(filter command line,$(origin BUILD)), BUILD=$(BUILD)) bench$(if $(QUICK), QUICK=1)$(if \
	    $(filter command line,$(origin RUNS)), RUNS=$(RUNS))"

# Issue 6's static-pool measurements (bench/static_pool/): utilisation of a 256 KiB pool, and exact instructions
# per hak_alloc/hak_free/hak_realloc call (ptrace single-stepping; a few minutes), and glibc's malloc for
# comparison: each layout of the firmware configs on the host, size classes (fs-small, the Cortex-M geometry) and
# compact, 64-bit and -m32 (the pointer width of a microcontroller).
SP_LAYOUTS := fs-small:freestanding_small fs-compact:freestanding_compact
bench-static-pool:
	@$(MAKE) --no-print-directory m32-deps
	@set -e; for l in $(SP_LAYOUTS); do b=$(BUILD)/bench/$${l%%:*}; c=config/$${l#*:}_defconfig; \
	    $(MAKE) --no-print-directory BUILD=$$b CONFIG_SRC=$$c $$b/libhakmem.a; \
	    $(MAKE) --no-print-directory BUILD=$$b-m32 CONFIG_SRC=$$c CFLAGS="-m32 -O2 -g" $$b-m32/libhakmem.a; \
	    $(CC) $(BENCH_FLAGS) bench/static_pool/static_pool.c -o $$b/static_pool $$b/libhakmem.a; \
	    $(CC) -m32 $(BENCH_FLAGS) bench/static_pool/static_pool.c -o $$b-m32/static_pool $$b-m32/libhakmem.a; done
	@$(CC) $(BENCH_FLAGS) -DUSE_GLIBC bench/static_pool/static_pool.c -o $(BUILD)/bench/static_pool_glibc
	@set -e; for l in $(SP_LAYOUTS); do b=$(BUILD)/bench/$${l%%:*}; echo "== $${l#*:}_defconfig =="; \
	    ./$$b/static_pool utilisation; echo "built -m32 (pointers and headers as on a 32-bit MCU):"; \
	    ./$$b-m32/static_pool utilisation | tail -n +2; \
	    ./$$b/static_pool maxinsn 7000 1 256; ./$$b/static_pool maxinsn; done
	@./$(BUILD)/bench/static_pool_glibc maxinsn

bench-profile: $(BUILD)/bench/bench_hakmem $(BUILD)/bench/bench_mimalloc
	@scripts/bench_profile.sh $(BUILD)/bench

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
install: all
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(LIBDIR)/pkgconfig
	install -m 644 include/hakmem.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libhakmem.a $(DESTDIR)$(LIBDIR)/
ifneq ($(FREESTANDING),1) # (firmware: no shared library, no shim)
	install -m 755 $(BUILD)/libhakmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/
	ln -sf libhakmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhakmem.so.$(SO_MAJOR)
	ln -sf libhakmem.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libhakmem.so
	install -m 644 $(BUILD)/libhakmem-malloc.a $(DESTDIR)$(LIBDIR)/
	install -m 755 $(BUILD)/libhakmem-malloc.so $(DESTDIR)$(LIBDIR)/
endif
	printf 'prefix=%s\nlibdir=%s\nincludedir=$${prefix}/include\n\nName: hakmem\nDescription: %s\nVersion: %s\nLibs: -L$${libdir} -lhakmem\nLibs.private: %s\nCflags: -I$${includedir}\n' \
	    '$(PREFIX)' '$(LIBDIR)' 'explicit-arena memory allocator' '$(VERSION)' '$(if $(FREESTANDING),,-pthread)' \
	    > $(DESTDIR)$(LIBDIR)/pkgconfig/hakmem.pc

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/hakmem.h $(DESTDIR)$(LIBDIR)/pkgconfig/hakmem.pc \
	    $(addprefix $(DESTDIR)$(LIBDIR)/,libhakmem.a libhakmem.so libhakmem.so.$(SO_MAJOR) libhakmem.so.$(VERSION) \
	    libhakmem-malloc.a libhakmem-malloc.so)

clean: # (build/, and what a BUILD elsewhere holds of hakmem's: never the directory itself)
	rm -rf build $(if $(filter-out build,$(BUILD)),$(addprefix $(BUILD)/,obj generated tests examples bench test \
	    target fuzz firmware libhakmem.a libhakmem.so* libhakmem-malloc.a libhakmem-malloc.so link_check.elf \
	    .config .config-src .flags))

distclean: clean
	rm -f .config .config.old defconfig

help:
	@sed -n '2,/^$$/s/^# \{0,1\}//p' Makefile
FORCE:
