# examples/firmware/firmware.mk — build hakmem's on-target test image and run it under QEMU (mps2-an385).
#
# Why: the host suites prove the allocator's logic; this image proves a freestanding build works on a Cortex-M
# (32-bit Thumb code, no OS, no libc, memory from static pools and regions). QEMU's exit status is the result.
#
# How the top-level Makefile uses it (paths are relative to the repository root, where make runs). FW_OUT and
# FW_LIB must be set before the include: rule targets and prerequisites are expanded when it is read.
#
#   FW_OUT := $(BUILD)/firmware                  # where objects, image and map go
#   FW_LIB := $(BUILD)/fw/libhakmem.a            # the freestanding hakmem library, compiled with $(FW_ARCH)
#   include examples/firmware/firmware.mk
#   test-firmware: $(FW_OUT)/hakmem_firmware.elf
#   	$(FW_QEMU) $<                             # exit status 0 = every check passed
#
#   The library must be compiled with the same CPU flags as the image: $(FW_ARCH) (e.g. append it to the
#   library's CFLAGS, with -ffreestanding). A cortex-m4 library links into a cortex-m3 image without complaint
#   and then faults (UsageFault, exit status 3) on the first DSP instruction the compiler chose to use.
#
# Provided:
#   $(FW_OUT)/hakmem_firmware.elf   the image (also writes hakmem_firmware.map next to it)
#   FW_QEMU                         command prefix to run an image: $(FW_QEMU) image.elf
#   fw-run, fw-size                 phony conveniences: run the image / print its section sizes
#   FW_ARCH, FW_CFLAGS, FW_LDFLAGS, FW_LIBS   for building anything else for the same target
#
# Knobs (all ?=): FW_CC, FW_NM, FW_SIZE (the arm-none-eabi tools); FW_CPU (cortex-m3; cortex-m4 switches the
# machine to mps2-an386, same memory map, since QEMU's an385 accepts only a Cortex-M3); FW_MACHINE (the QEMU
# board, derived from FW_CPU); FW_TIMEOUT (seconds,
# 120); FW_TEST_DEFS (e.g. -DFW_POOL_SIZE=0x60000 -DFW_RANDOM_OPS=50000); FW_REGION_SIZE and FW_STACK_SIZE
# (bytes, override the linker script's 256 KiB region and 16 KiB stack).
#
# Exit statuses of $(FW_QEMU): 0 all checks passed, 1 a check failed, 3 the CPU faulted (HardFault etc., with
# the faulting PC printed), 124 timed out. The test prints through semihosting, which QEMU writes to stderr.
#
# The library (FW_LIB) must define every hak_* function of include/hakmem.h that the test calls, including
# hak_platform_add_region, plus memset/memcpy (the library's own calls and compiler-emitted ones). -lgcc
# supplies the 64-bit division helpers (__aeabi_uldivmod) the library uses on a 32-bit core. startup.c supplies
# a weak __aeabi_read_tp and a TLS block for _Thread_local variables, should the library have any.

FW_CC      ?= arm-none-eabi-gcc
FW_NM      ?= arm-none-eabi-nm
FW_SIZE    ?= arm-none-eabi-size
FW_CPU     ?= cortex-m3
FW_TIMEOUT ?= 120
FW_OUT     ?= build/firmware
FW_DIR     := examples/firmware
fw_comma   := ,

ifeq ($(FW_CPU),cortex-m3)
  FW_MACHINE ?= mps2-an385
else
  FW_MACHINE ?= mps2-an386
endif

FW_ARCH    := -mcpu=$(FW_CPU) -mthumb -mfloat-abi=soft
FW_CFLAGS   = $(FW_ARCH) -std=c11 -Os -g -ffreestanding -ffunction-sections -fdata-sections \
              -fno-tree-loop-distribute-patterns \
              -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
              -Iinclude -I$(FW_DIR) $(FW_TEST_DEFS)
FW_LDFLAGS  = $(FW_ARCH) -nostdlib -nostartfiles -T $(FW_DIR)/mps2_an385.ld -Wl,--gc-sections \
              $(if $(FW_REGION_SIZE),-Wl$(fw_comma)--defsym=__hak_region_size=$(FW_REGION_SIZE)) \
              $(if $(FW_STACK_SIZE),-Wl$(fw_comma)--defsym=__stack_size=$(FW_STACK_SIZE))
FW_LIBS     = $(FW_LIB) -lgcc

FW_QEMU     = timeout $(FW_TIMEOUT) qemu-system-arm -M $(FW_MACHINE) -nographic \
              -semihosting-config enable=on,target=native -kernel

FW_SRC     := $(FW_DIR)/startup.c $(FW_DIR)/semihost.c $(FW_DIR)/test_firmware.c
FW_OBJ     := $(patsubst $(FW_DIR)/%.c,$(FW_OUT)/%.o,$(FW_SRC))
FW_HDR     := include/hakmem.h $(FW_DIR)/semihost.h $(FW_DIR)/startup.h

# The symbols the test's own objects may leave undefined: hakmem's API, each other's, the linker script's.
# Anything else (memset, printf, ...) means the test code grew a C library dependency: the build says so.
FW_ALLOWED_UNDEF := ^(hak_|__hak_region_|semihost_|fw_stack_|main$$|__(stack|data|bss|pool|tdata|tbss|tls)_|__init_array_)

# The compiler command the objects were built with, rewritten only when it changes (FW_CPU, FW_TEST_DEFS, ...), so
# that the objects of another command are rebuilt rather than reused.
fw_same     = $(and $(findstring x$(1),x$(2)),$(findstring x$(2),x$(1)))
$(FW_OUT):
	@mkdir -p $@
$(FW_OUT)/.fwflags: fw-force | $(FW_OUT) # (the directory first: make expands the whole recipe before running it)
	$(if $(call fw_same,$(FW_CC) $(FW_CFLAGS),$(file <$@)),,$(file >$@,$(FW_CC) $(FW_CFLAGS)))

$(FW_OUT)/%.o: $(FW_DIR)/%.c $(FW_HDR) $(FW_DIR)/firmware.mk $(FW_OUT)/.fwflags
	@mkdir -p $(dir $@)
	@echo "  FW CC   $<"
	@$(FW_CC) $(FW_CFLAGS) -c $< -o $@

$(FW_OUT)/hakmem_firmware.elf: $(FW_OBJ) $(FW_DIR)/mps2_an385.ld $(FW_LIB)
	$(if $(FW_LIB),,$(error FW_LIB must name the freestanding hakmem library built with $(FW_ARCH)))
	@bad=$$($(FW_NM) -u $(FW_OBJ) | awk 'NF == 2 { print $$2 }' | grep -Ev '$(FW_ALLOWED_UNDEF)' | sort -u); \
	 if [ -n "$$bad" ]; then echo "firmware test code needs symbols outside hakmem: $$bad" >&2; exit 1; fi
	@echo "  FW LD   $@"
	@$(FW_CC) $(FW_LDFLAGS) -Wl,-Map=$(@:.elf=.map) $(FW_OBJ) $(FW_LIBS) -o $@
	@$(FW_SIZE) $@

.PHONY: fw-run fw-size fw-force
fw-run: $(FW_OUT)/hakmem_firmware.elf
	$(FW_QEMU) $<

fw-size: $(FW_OUT)/hakmem_firmware.elf
	$(FW_SIZE) -A $<
