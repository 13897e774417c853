"""Summarise a py-spy raw profile (collapsed stacks): where the server's time goes.

``python -m bench.profile PATH [--top N]`` prints the functions with the most
self time and the most inclusive time, as percentages of all samples.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence


def load(path: str) -> list[tuple[list[str], int]]:
    stacks = []
    with open(path) as lines:
        for line in lines:
            frames, _, count = line.rstrip("\n").rpartition(" ")
            if frames and count.isdigit():
                stacks.append((frames.split(";"), int(count)))
    return stacks


# Frames of threads that wait for work: py-spy cannot tell them idle.
IDLE_LEAVES = ("_worker (concurrent/futures/thread.py",)


def short(frame: str) -> str:
    # "function (path/to/module.py:123)" -> "function (module.py)"
    name, _, where = frame.partition(" (")
    module = where.rsplit("/", 1)[-1].split(":", 1)[0]
    return f"{name} ({module})" if module else name


def summarise(path: str, top: int = 25) -> str:
    stacks = [
        (frames, count)
        for frames, count in load(path)
        if not any(frame.startswith(IDLE_LEAVES) for frame in frames)
    ]
    total = sum(count for _, count in stacks) or 1
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    for frames, count in stacks:
        names = [short(f) for f in frames]
        own[names[-1]] += count
        lines[frames[-1]] += count
        for name in set(names):
            inclusive[name] += count
    out = [f"{total} busy samples", "", "self time:"]
    out += [f"  {100 * n / total:5.1f} %  {name}" for name, n in own.most_common(top)]
    out += ["", "self time by line (C calls count in the line that makes them):"]
    out += [f"  {100 * n / total:5.1f} %  {name}" for name, n in lines.most_common(top)]
    out += ["", "inclusive time:"]
    out += [f"  {100 * n / total:5.1f} %  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("path")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args(argv)
    print(summarise(args.path, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
