"""Print the mutation score of each core module from mutmut's results in mutants/ (after `mutmut run`).

A mutant listed in tests/mutation/equivalent.md (its name in backticks, with the reason it changes nothing a
user or an attacker could see) counts as accounted for, not as a survivor. Exit status 1 when a module that
was run has a survivor that is not listed, so the gap is seen.

    python -m tests.mutation.scores            # every module that has results
"""

from __future__ import annotations

import json
import re
import sys
import tomllib
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EQUIVALENT = Path(__file__).with_name("equivalent.md")

# mutmut's exit codes (mutmut.stats.status_by_exit_code), so this runs without importing mutmut.
STATUS = {1: "killed", 3: "killed", 37: "killed", 0: "survived", 5: "no tests", 33: "no tests", 34: "skipped",
          None: "not checked", 24: "timeout", -24: "timeout", 36: "timeout", 152: "timeout", 255: "timeout"}


def listed_equivalent() -> set[str]:
    if not EQUIVALENT.exists():
        return set()
    return set(re.findall(r"`(shared\.[\w.]+__mutmut_\d+)`", EQUIVALENT.read_text()))


def core_modules() -> list[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    return config["only_mutate"]


def main() -> int:
    equivalent = listed_equivalent()
    unexplained = []
    print(f"{'module':32} {'mutants':>7} {'killed':>7} {'timeout':>7} {'equiv.':>7} {'survived':>8} {'no test':>7} {'score':>7}")
    for module in core_modules():
        meta = ROOT / "mutants" / f"{module}.meta"
        results = json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}
        counts = Counter()
        for name, code in results.items():
            status = STATUS.get(code, "suspicious")
            if status in ("survived", "no tests", "suspicious") and name in equivalent:
                status = "equivalent"
            elif status in ("survived", "no tests", "suspicious"):
                unexplained.append(name)
            counts[status] += 1
        checked = sum(counts.values()) - counts["not checked"]
        if not checked:
            print(f"{module:32} {'not run':>7}")
            continue
        # A timeout is a kill (the mutant hangs the tests); an equivalent mutant cannot be killed.
        killed = counts["killed"] + counts["timeout"]
        score = killed / max(checked - counts["equivalent"], 1)
        print(f"{module:32} {checked:>7} {counts['killed']:>7} {counts['timeout']:>7} {counts['equivalent']:>7} "
              f"{counts['survived'] + counts['suspicious']:>8} {counts['no tests']:>7} {score:>7.1%}")
    if unexplained:
        print(f"\n{len(unexplained)} mutants survived and are not listed in {EQUIVALENT.relative_to(ROOT)}:")
        for name in unexplained:
            print(f"  {name}   (mutmut show {name})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
