#!/bin/sh
# Runs one kconfiglib command (defconfig, olddefconfig, genconfig, savedefconfig, menuconfig) with a Python that
# can import kconfiglib, and fails when kconfiglib warns (out-of-range values, unknown symbols...), which it
# otherwise only prints. Usage: scripts/kconfig.sh TOOL ARGS...
set -eu
tool=$1; shift
py=""
for cand in python3 /usr/bin/python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import kconfiglib' 2>/dev/null; then py=$cand; break; fi
done
if [ -z "$py" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "kconfig: installing python3-kconfiglib (Debian)" >&2
    apt-get install -y -q python3-kconfiglib >/dev/null 2>&1 ||
        { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q python3-kconfiglib >/dev/null 2>&1; } || true
    /usr/bin/python3 -c 'import kconfiglib' 2>/dev/null && py=/usr/bin/python3
fi
if [ -z "$py" ]; then
    echo "kconfig: no python3 can import kconfiglib; install python3-kconfiglib (make test does)" >&2
    exit 2
fi
# A configuration written before the SuperSlab size became a choice sets CONFIG_HAK_FS_SLAB_KIB, which kconfiglib
# would ignore without a word (it is derived now): refuse it and say what replaced it.
# (defconfig writes KCONFIG_CONFIG rather than reading it: there, only the defconfig it reads counts)
eval "last=\${$#}"
read_config=${KCONFIG_CONFIG:-}
if [ "$tool" = defconfig ]; then read_config=""; fi
for f in "$read_config" "$last"; do
    if [ -f "$f" ] && grep -q '^CONFIG_HAK_FS_SLAB_KIB=' "$f" && ! grep -q '^CONFIG_HAK_FS_SLAB_[0-9]*[KM]=y' "$f"; then
        echo "kconfig: $f sets CONFIG_HAK_FS_SLAB_KIB, now chosen with CONFIG_HAK_FS_SLAB_16K .. _1M" \
             "(e.g. CONFIG_HAK_FS_SLAB_64K=y)" >&2
        exit 1
    fi
done
export KCONFIG_WARN_UNDEF_ASSIGN=y
if [ "$tool" = menuconfig ]; then exec "$py" -m menuconfig "$@"; fi
err=$(mktemp)
trap 'rm -f "$err"' EXIT
status=0
"$py" -m "$tool" "$@" 2>"$err" || status=$?
cat "$err" >&2
if [ $status -ne 0 ]; then exit $status; fi
if grep -qi 'warning' "$err"; then echo "kconfig: warnings are errors" >&2; exit 1; fi
# An option the defconfig turns on but its dependencies refuse (HAK_HARDENED with HAK_COMPACT) is dropped by
# kconfiglib without a word: say so and fail, rather than build something else than asked for.
if [ "$tool" = defconfig ]; then
    for s in $(sed -n 's/^\(CONFIG_[A-Z0-9_]*\)=y$/\1/p' "$last"); do
        grep -q "^$s=y" "${KCONFIG_CONFIG:-.config}" ||
            { echo "kconfig: $last sets $s=y, which its dependencies refuse" >&2; exit 1; }
    done
fi
