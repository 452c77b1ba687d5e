#!/usr/bin/python3
"""Code size of a firmware link by where it comes from: the bytes of .text and .rodata input sections kept in the
output, summed per object file, from a GNU ld map (-Wl,-Map=FILE). Prints one line: the core (objects built from
arena/), the platform (platform/) and the whole image. Used by `make link-check` (issue 6's 4 KiB core).

    code_size.py MAP CORE_OBJ... -- PLATFORM_OBJ...
"""
import re
import sys


def sizes(map_path):
    """{object file name: bytes} over the kept .text* and .rodata* input sections."""
    per_obj, pending = {}, None
    started = False
    for line in open(map_path):
        if line.startswith("Linker script and memory map"):
            started = True
            continue
        if not started:
            continue
        name_only = re.match(r"^ (\.\S+)\s*$", line)  # a long section name: its address and size follow
        if name_only:
            pending = name_only.group(1)
            continue
        m = re.match(r"^ (\.\S+)?\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)\s*$", line)
        name = (m.group(1) or pending) if m else None
        pending = None
        if not m or not name or not name.startswith((".text", ".rodata")):
            continue
        obj = re.sub(r".*\((.*)\)$", r"\1", m.group(3)).split("/")[-1]
        per_obj[obj] = per_obj.get(obj, 0) + int(m.group(2), 16)
    return per_obj


def main():
    args = sys.argv[1:]
    split = args.index("--")
    core, platform = set(args[1:split]), set(args[split + 1:])
    per_obj = sizes(args[0])
    sum_of = lambda names: sum(b for o, b in per_obj.items() if o in names)
    print(f"  code: core (arena/) {sum_of(core):,} B, platform {sum_of(platform):,} B, "
          f"image {sum(per_obj.values()):,} B (.text and .rodata by object, from the link map)")


if __name__ == "__main__":
    main()
