#!/usr/bin/env python3
"""A recording fake for minikube / kubectl / helm, for what cannot run here.

No Kubernetes API server and no minikube can run on the CI machine, so tests put this
script on PATH under the tool's name. It:
- appends one JSON line per call to ``$FAKE_TOOLS_LOG``: {"tool", "argv", "stdin"};
- answers from the rules in ``$FAKE_TOOLS_RULES`` (JSON list). The first rule whose ``tool``
  matches and whose ``match`` regex is found in the space-joined argv wins; it prints
  ``stdout``/``stderr`` and exits ``code``. A rule with ``times`` is used that many times
  (counted in ``$FAKE_TOOLS_LOG``'s directory), then skipped. No match fails loudly, as
  invoke's ``MockContext`` does: the call is logged as ``"unmatched": true``, a message goes
  to stderr and the exit code is 97 (and the ``fake_tools`` fixture fails the test).
  A rule with ``hang`` first sleeps that many seconds, as ``helm upgrade --wait`` waits; a
  SIGTERM meanwhile prints the rule's ``on_term`` to stderr and exits 1, as helm 3 and 4 do
  ("Release NAME has been cancelled.").
Rules replay real output shapes (captured from the real tools); each test says which.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path


def main() -> int:
    tool = Path(sys.argv[0]).name
    argv = sys.argv[1:]
    stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    log = Path(os.environ["FAKE_TOOLS_LOG"])
    rules = json.loads(Path(os.environ["FAKE_TOOLS_RULES"]).read_text(encoding="utf-8"))
    joined = " ".join(argv)
    counts_file = log.with_suffix(".counts.json")
    counts = json.loads(counts_file.read_text()) if counts_file.exists() else {}
    for index, rule in enumerate(rules):
        if rule.get("tool") not in (None, tool):
            continue
        if not re.search(rule.get("match", ""), joined):
            continue
        if "times" in rule:
            used = counts.get(str(index), 0)
            if used >= rule["times"]:
                continue
            counts[str(index)] = used + 1
            counts_file.write_text(json.dumps(counts))
        record(log, tool, argv, stdin)
        if "hang" in rule:
            def cancelled(signum: int, frame: object, text: str = rule.get("on_term", "")
                          ) -> None:
                sys.stderr.write(text)
                sys.exit(1)

            signal.signal(signal.SIGTERM, cancelled)
            time.sleep(float(rule["hang"]))
        sys.stdout.write(rule.get("stdout", ""))
        sys.stderr.write(rule.get("stderr", ""))
        return int(rule.get("code", 0))
    record(log, tool, argv, stdin, unmatched=True)
    sys.stderr.write(f"fake {tool}: no rule matches: {tool} {joined}\n")
    return UNMATCHED


UNMATCHED = 97


def record(log: Path, tool: str, argv: list[str], stdin: str, *, unmatched: bool = False
           ) -> None:
    entry = {"tool": tool, "argv": argv, "stdin": stdin}
    if unmatched:
        entry["unmatched"] = True
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry) + "\n")


if __name__ == "__main__":
    sys.exit(main())
