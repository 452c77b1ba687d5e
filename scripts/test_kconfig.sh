#!/usr/bin/env bash
# Checks that Kconfig warnings fail the build (an out-of-range value, an unknown symbol), then drives
# `make menuconfig` in a real terminal (tmux): switches the default policy from fast to lean, saves, and
# checks that .config changed and that the next `make` rebuilt the library with the new setting. Runs in a
# scratch copy of the tree so the developer's own .config is untouched. Skipped (and says so) without tmux.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
session="hakmem-mc-$$"
trap 'tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$work"' EXIT
cp -r "$src"/{Kconfig,Makefile,scripts,config,include,arena,platform,examples,shim} "$work"/
cd "$work"

for bad in 'CONFIG_HAK_DEBUG_LEVEL=9' 'CONFIG_HAK_NO_SUCH_OPTION=y'; do
    printf '%s\n' "$bad" > bad_defconfig
    if make -s BUILD=build/bad CONFIG_SRC=bad_defconfig all >/dev/null 2>&1; then
        echo "kconfig test: FAILED ('$bad' was accepted)"; exit 1
    fi
    rm -rf build/bad
done
for bad in 'CONFIG_HAK_DEBUG_LEVEL=9' 'CONFIG_HAK_NO_SUCH_OPTION=y'; do # the same in .config, twice: no half-written
    printf '%s\n' "$bad" > .config                                      # configuration may let the second make pass
    for try in 1 2; do
        if make -s BUILD=build/bad all >/dev/null 2>&1; then
            echo "kconfig test: FAILED ('$bad' in .config accepted by make number $try)"; exit 1
        fi
    done
    rm -rf build/bad .config
done
# A freestanding geometry whose page headers would not fit (64 KiB SuperSlabs of 512-byte slices: 128 slices).
printf 'CONFIG_HAK_PLATFORM_FREESTANDING=y\nCONFIG_HAK_FS_SLAB_64K=y\nCONFIG_HAK_FS_SLICE_SHIFT=9\n' > bad_defconfig
if make -s BUILD=build/bad CONFIG_SRC=bad_defconfig all >/dev/null 2>&1; then
    echo "kconfig test: FAILED (a SuperSlab of 128 slices was accepted)"; exit 1
fi
rm -rf build/bad
# A configuration from before the SuperSlab size became a choice (kconfiglib alone would ignore the value).
printf 'CONFIG_HAK_PLATFORM_FREESTANDING=y\nCONFIG_HAK_FS_SLAB_KIB=256\n' > bad_defconfig
if make -s BUILD=build/bad CONFIG_SRC=bad_defconfig all >/dev/null 2>&1; then
    echo "kconfig test: FAILED (CONFIG_HAK_FS_SLAB_KIB, no longer settable, was accepted)"; exit 1
fi
rm -rf build/bad
# An option its dependencies refuse (hardening needs the size-class layout): kconfiglib alone would drop it.
printf 'CONFIG_HAK_PLATFORM_FREESTANDING=y\nCONFIG_HAK_COMPACT=y\nCONFIG_HAK_HARDENED=y\n' > bad_defconfig
if make -s BUILD=build/bad CONFIG_SRC=bad_defconfig all >/dev/null 2>&1; then
    echo "kconfig test: FAILED (HAK_HARDENED with HAK_COMPACT was accepted)"; exit 1
fi
rm -rf build/bad
echo "kconfig test: passed (out-of-range values, unknown symbols, impossible geometries, refused options and replaced options fail the build, every time)"

# Values Kconfig documents as valid build: 0 for the lean pacing interval and the trim delays ("no limit", "never").
# So do the freestanding geometries at the ends of what Kconfig offers (16 KiB SuperSlabs of 32 slices, 256 KiB
# ones of 16).
fs_edge='CONFIG_HAK_PLATFORM_FREESTANDING=y CONFIG_HAK_FS_ADDR_BITS=48 CONFIG_HAK_FS_OWN_LIBC=n'
for edge in 'CONFIG_HAK_LEAN_INTERVAL_MS=0' 'CONFIG_HAK_LEAN_TRIM_MS=0' 'CONFIG_HAK_FAST_TRIM_MS=0' \
            "$fs_edge CONFIG_HAK_FS_SLAB_16K=y CONFIG_HAK_FS_SLICE_SHIFT=9" \
            "$fs_edge CONFIG_HAK_FS_SLAB_256K=y CONFIG_HAK_FS_SLICE_SHIFT=14"; do
    { [ "${edge#$fs_edge}" != "$edge" ] || cat config/defconfig; printf '%s\n' $edge; } > edge_defconfig
    make -s BUILD=build/edge CONFIG_SRC=edge_defconfig all >/dev/null 2>&1 ||
        { echo "kconfig test: FAILED ('$edge' does not build)"; exit 1; }
    rm -rf build/edge
done
echo "kconfig test: passed (documented edge values build)"

# The build directory follows the configuration it is given: another CONFIG_SRC, or .config removed.
policy() { sed -n 's/^#define CONFIG_HAK_POLICY_\(FAST\|LEAN\) 1$/\1/p' build/sw/generated/autoconf.h; }
make -s BUILD=build/sw CONFIG_SRC=config/defconfig all >/dev/null 2>&1
make -s BUILD=build/sw CONFIG_SRC=config/linux_lean_defconfig all >/dev/null 2>&1
[ "$(policy)" = LEAN ] || { echo "kconfig test: FAILED (CONFIG_SRC switched to lean, built $(policy))"; exit 1; }
cp config/linux_lean_defconfig .config
make -s BUILD=build/sw all >/dev/null 2>&1
rm .config
make -s BUILD=build/sw all >/dev/null 2>&1
[ "$(policy)" = FAST ] || { echo "kconfig test: FAILED (.config removed, built $(policy))"; exit 1; }
rm -rf build/sw
echo "kconfig test: passed (switching CONFIG_SRC or removing .config reconfigures the build directory)"

if ! command -v tmux >/dev/null; then
    echo "menuconfig test: SKIPPED (tmux is not installed)"
    exit 0
fi
make -s defconfig >/dev/null
make -s all >/dev/null 2>&1
grep -q '^CONFIG_HAK_POLICY_FAST=y' .config

wait_for() { # text, what
    for _ in $(seq 100); do
        tmux capture-pane -p -t "$session" 2>/dev/null | grep -q "$1" && return 0
        sleep 0.1
    done
    echo "menuconfig test: FAILED waiting for '$1' ($2)"; tmux capture-pane -p -t "$session" || true; exit 1
}

tmux new-session -d -s "$session" -x 120 -y 40 "make menuconfig; sleep 1"
wait_for "Default memory policy (fast)" "main menu"
tmux send-keys -t "$session" Down Down Enter
wait_for "( ) lean" "policy choice"
tmux send-keys -t "$session" Down Enter
wait_for "Default memory policy (lean)" "back in the main menu"
tmux send-keys -t "$session" S
wait_for "Filename to save" "save dialog"
tmux send-keys -t "$session" Enter
sleep 0.5
tmux send-keys -t "$session" Enter
sleep 0.3
tmux send-keys -t "$session" Q
for _ in $(seq 50); do tmux has-session -t "$session" 2>/dev/null || break; sleep 0.1; done

grep -q '^CONFIG_HAK_POLICY_LEAN=y' .config || { echo "menuconfig test: FAILED (.config not changed)"; exit 1; }
before=$(stat -c %Y build/libhakmem.a)
sleep 1
out=$(make all 2>&1)
grep -q '^#define CONFIG_HAK_POLICY_LEAN 1' build/generated/autoconf.h ||
    { echo "menuconfig test: FAILED (autoconf.h not regenerated)"; exit 1; }
after=$(stat -c %Y build/libhakmem.a)
[ "$after" -gt "$before" ] || { echo "menuconfig test: FAILED (library not rebuilt)"; echo "$out"; exit 1; }
echo "menuconfig test: passed (policy fast -> lean saved in .config, library rebuilt)"
