#!/usr/bin/python3
"""Random-configuration sweep: builds and tests configurations no defconfig covers.

    /usr/bin/python3 scripts/randconfig.py [-n ROUNDS] [--seed S] [--cross] [--only-gen] [--keep-going]

Each round sets every visible option of Kconfig at random (ints at the ends of their range, their default or
anywhere inside it), writes build/rand/SEED/defconfig and runs `make check-one` on it (the Criterion suite). Host
rounds are Linux, or freestanding for the host as freestanding_host_defconfig is (the suite links a POSIX shim;
its big blocks need the 256 MiB pool, compact blocks up to 2^32 and 48 address bits). --cross makes freestanding
configurations for arm-none-eabi- or riscv64-unknown-elf- instead, with their own memset (link-check links
nothing but libgcc) and no ARMv6-M (unsupported, see README), and runs `make all link-check` on them. A failing
round's defconfig and log stay in build/rand/SEED; the sweep stops at the first failure unless --keep-going.
Slow (10-40 s a round): not part of make test.
"""
import argparse
import os
import random
import subprocess
import sys

import kconfiglib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CROSS = {"arm-none-eabi-": ["-mcpu=cortex-m4 -mthumb -mfloat-abi=soft", "-mcpu=cortex-m33 -mthumb -mfloat-abi=soft",
                            "-mcpu=cortex-m7 -mthumb -mfloat-abi=soft"],
         "riscv64-unknown-elf-": ["-march=rv64imac -mabi=lp64 -mcmodel=medany",
                                  "-march=rv32imac -mabi=ilp32"]}
# What the host suite needs of a freestanding build (freestanding_host_defconfig): room for its big blocks (in the
# pool, and below the compact layout's largest block), host addresses. Everything else is drawn.
HOST_FS = {"HAK_CROSS_COMPILE": "", "HAK_TARGET_CFLAGS": "", "HAK_STATIC_POOL_SIZE": "268435456",
           "HAK_COMPACT_MAX_SHIFT": "32", "HAK_FS_ADDR_BITS": "48"}


def pick_int(rng, sym):
    """A value inside the symbol's active range: an end, the default, or anywhere between."""
    lo, hi = 0, 1 << 30
    for low, high, cond in sym.ranges:
        if kconfiglib.expr_value(cond):
            lo, hi = int(low.str_value, 0), int(high.str_value, 0)
            break
    default = int(sym.str_value or lo, 0)
    v = rng.choice([lo, hi, default, default, rng.randint(lo, hi)])
    return str(min(max(v, lo), hi))


def randomise(kconf, rng, cross):
    """Sets the options in menu order (an option's dependencies come before it)."""
    fs = cross or rng.random() < 0.5
    kconf.syms["HAK_PLATFORM_FREESTANDING" if fs else "HAK_PLATFORM_LINUX"].set_value(2)
    fixed = dict(HOST_FS)
    if cross:
        prefix = rng.choice(sorted(CROSS))
        fixed = {"HAK_CROSS_COMPILE": prefix, "HAK_TARGET_CFLAGS": rng.choice(CROSS[prefix]),
                 "HAK_FS_OWN_LIBC": "y"}  # (link-check links nothing but libgcc)
    for node in kconf.node_iter():
        item = node.item
        if isinstance(item, kconfiglib.Choice):
            if item.visibility and item.name != "HAK_PLATFORM":
                syms = [s for s in item.syms if s.visibility]
                if syms:
                    rng.choice(syms).set_value(2)
            continue
        if not isinstance(item, kconfiglib.Symbol) or not item.visibility or item.choice:
            continue
        if item.name in fixed:
            item.set_value(fixed[item.name])
        elif item.type in (kconfiglib.BOOL, kconfiglib.TRISTATE):
            item.set_value(rng.choice([0, 2]))
        elif item.type in (kconfiglib.INT, kconfiglib.HEX):
            item.set_value(pick_int(rng, item))


def run(cmd, log):
    with open(log, "a") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        return subprocess.call(cmd, cwd=ROOT, stdout=f, stderr=subprocess.STDOUT)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10, help="rounds (default 10)")
    ap.add_argument("--seed", type=int, default=None, help="seed of the first round (default: random)")
    ap.add_argument("--cross", action="store_true", help="cross-compiled freestanding configurations")
    ap.add_argument("--only-gen", action="store_true", help="write the defconfigs, build nothing")
    ap.add_argument("--keep-going", action="store_true", help="go on after a failing round")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    failed = []
    for i in range(args.n):
        s = seed + i
        kconf = kconfiglib.Kconfig(os.path.join(ROOT, "Kconfig"), warn=False)
        randomise(kconf, random.Random(s), args.cross)
        build = "build/rand/%s%d" % ("x" if args.cross else "", s)
        os.makedirs(os.path.join(ROOT, build), exist_ok=True)
        defconfig = os.path.join(build, "defconfig")
        kconf.write_min_config(os.path.join(ROOT, defconfig), header="# randconfig seed %d\n" % s)
        if args.only_gen:
            print(defconfig)
            continue
        log = os.path.join(ROOT, build, "log")
        open(log, "w").close()
        goals = ["all", "link-check"] if args.cross else ["check-one"]
        rc = run(["make", "-s", "BUILD=" + build, "CONFIG_SRC=" + defconfig] + goals, log)
        print("%s seed %d: %s" % ("FAIL" if rc else "ok  ", s, defconfig), flush=True)
        if rc:
            failed.append(s)
            if not args.keep_going:
                break
    if failed:
        print("failing seeds: %s (defconfig and log in build/rand/<seed>/)" % " ".join(map(str, failed)))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
