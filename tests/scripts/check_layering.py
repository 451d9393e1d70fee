#!/usr/bin/env python3
"""Checks that no nnlite header includes one from a higher layer (README.md, "Where things are").

Layers, lowest first; a header may include headers of its own layer or of a lower one. The order is the one the
include lines have: core <- kernels <- layers <- optim <- model <- io, plot; data (sources, datasets) needs only core
and is used from model and io, so it sits just above core; data/fashion_mnist.hpp (the data set over io/idx.hpp) sits above io. io, plot and mpi
(the MPI Communicator over model/communicator.hpp) are peers that must not include each other.
Usage: check_layering.py <include dir> (default: include/ next to this script's repository). Exit 1 on a violation.
"""
import os
import re
import sys

LEVEL = {"core": 0, "kernels": 1, "data": 1, "layers": 2, "optim": 3, "model": 4, "io": 5, "plot": 5, "mpi": 5}
# Headers placed apart from their room: a data-set policy over the IDX format sits above io/.
HEADER_LEVEL = {"data/fashion_mnist.hpp": 6}
PEERS_APART = {("io", "plot"), ("plot", "io"), ("mpi", "io"), ("io", "mpi"), ("mpi", "plot"), ("plot", "mpi")}
INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "include")
    base = os.path.join(os.path.abspath(root), "nnlite")
    errors = []
    checked = 0
    for room in sorted(os.listdir(base)):
        room_dir = os.path.join(base, room)
        if not os.path.isdir(room_dir):
            continue  # nnlite.hpp, plot.hpp: umbrellas over the rooms
        if room not in LEVEL:
            errors.append(f"{room}/: a room the layering check does not know (add it to LEVEL in {__file__})")
            continue
        for dirpath, _, files in os.walk(room_dir):
            for name in sorted(files):
                path = os.path.join(dirpath, name)
                checked += 1
                with open(path, encoding="utf-8") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = os.path.normpath(os.path.join(dirpath, m.group(1)))
                        if not os.path.exists(target):
                            target = os.path.normpath(os.path.join(os.path.dirname(base), m.group(1)))
                        rel = os.path.relpath(target, base)
                        to_room = rel.split(os.sep)[0]
                        if to_room not in LEVEL:
                            continue
                        here = os.path.relpath(path, base).replace(os.sep, "/")
                        there = rel.replace(os.sep, "/")
                        lvl_from = HEADER_LEVEL.get(here, LEVEL[room])
                        lvl_to = HEADER_LEVEL.get(there, LEVEL[to_room])
                        where = f"{os.path.relpath(path, os.path.dirname(base))}:{lineno}"
                        if lvl_to > lvl_from or (room, to_room) in PEERS_APART:
                            errors.append(f"{where}: {room}/ includes {rel} from the higher layer {to_room}/")
    for e in errors:
        print(e)
    print(f"layering: {checked} headers checked, {len(errors)} violation(s)")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
