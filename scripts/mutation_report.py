"""Killed share per module from `mutmut results --all true` on stdin (scripts/mutation.sh).

A line reads ``    todo_deploy.<module>.x_<function>__mutmut_<n>: <status>``. Killed means the
tests failed (``killed``), hung past mutmut's limit (``timeout``) or mypy rejected the mutant
(``caught by type check``); ``not checked`` and ``skipped`` mutants are left out of the share.
The images package is one module (``images``) with a line per submodule. Survivors listed
in the equivalents file (a line holding the mutant's name) are counted apart: ``share
w/o equiv.`` is killed / (tested - equivalent).

Usage: mutmut results --all true | python scripts/mutation_report.py [--survivors]
       [--equivalents FILE] [-- MODULE ...]    (only these modules; default: every module)

``--survivors`` prints the names of the surviving mutants that are not listed as
equivalent instead (one a line), for ``mutmut run NAME...`` after new tests.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r"^\s*todo_deploy\.(?P<module>[\w.]+?)\.x\S*__mutmut_\d+: (?P<status>.+)$")
NAME = re.compile(r"todo_deploy\.[\w.]+?\.x\S*?__mutmut_\d+")
KILLED = {"killed", "timeout", "caught by type check"}
UNTESTED = {"not checked", "skipped"}


def parse(lines: list[str]) -> dict[str, Counter[str]]:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    for line in lines:
        m = LINE.match(line.rstrip("\n"))
        if m:
            by_module[m["module"]][m["status"].strip()] += 1
    return by_module


def survivors(lines: list[str]) -> set[str]:
    found = set()
    for line in lines:
        m = LINE.match(line.rstrip("\n"))
        if m and m["status"].strip() not in KILLED | UNTESTED:
            found.add(line.strip().rsplit(":", 1)[0])
    return found


def main(argv: list[str]) -> int:
    equivalents: set[str] = set()
    wanted: list[str] = []
    args = list(argv)
    names_only = args[:1] == ["--survivors"]
    if names_only:
        args = args[1:]
    if args[:1] == ["--equivalents"]:
        path = Path(args[1])
        if path.exists():
            equivalents = set(NAME.findall(path.read_text(encoding="utf-8")))
        args = args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    wanted = args
    lines = sys.stdin.readlines()
    alive = survivors(lines)
    if names_only:
        for name in sorted(alive - equivalents):
            module = name.removeprefix("todo_deploy.").split(".x", 1)[0]
            if not wanted or any(module == w or module.startswith(w + ".") for w in wanted):
                print(name)
        return 0
    rows = []
    for module, counts in sorted(parse(lines).items()):
        top = module.split(".")[0]
        if wanted and not any(module == w or module.startswith(w + ".") for w in wanted):
            continue
        tested = sum(n for s, n in counts.items() if s not in UNTESTED)
        if not tested:
            continue
        killed = sum(counts[s] for s in KILLED)
        equiv = len({name for name in alive & equivalents
                     if name.startswith(f"todo_deploy.{module}.x")})
        rows.append((top, module, tested, killed, equiv))
    if not rows:
        print("no mutants tested yet (run scripts/mutation.sh first)")
        return 1

    def line(name: str, tested: int, killed: int, equiv: int) -> str:
        share = 100 * killed / tested
        adjusted = 100 * killed / (tested - equiv) if tested > equiv else 100.0
        return (f"{name:<22} {tested:>7} {killed:>7} {tested - killed - equiv:>9} {equiv:>6}"
                f" {share:>7.1f}% {adjusted:>7.1f}%")

    print(f"{'module':<22} {'tested':>7} {'killed':>7} {'survived':>9} {'equiv':>6}"
          f" {'share':>8} {'w/o equiv.':>8}")
    groups: dict[str, list[tuple[str, int, int, int]]] = defaultdict(list)
    for top, module, tested, killed, equiv in rows:
        groups[top].append((module, tested, killed, equiv))
    for top, members in groups.items():
        if len(members) > 1 or members[0][0] != top:  # a package: its total, then each module
            print(line(top, *(sum(m[i] for m in members) for i in (1, 2, 3))))
            for module, tested, killed, equiv in members:
                print(line("  " + module, tested, killed, equiv))
        else:
            print(line(*members[0]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
