"""Check the core's speed and memory targets on this machine.

Usage: ``.venv/bin/python bench/targets.py [--frames N]``. Runs ``pinozcam bench``
with one inference thread and the shipped model, in a fresh process so that the
peak RSS is the check's own, and compares with the targets below. Exit status 1
when a target is missed. Not part of the test suite: timings belong here.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

# Targets for a 2-core x86 machine, one inference thread, the shipped model.
TARGETS = {
    "check_ms_median": 25.0,   # end to end per 1280x720 frame
    "cold_start_s": 1.5,       # import and model load
    "peak_rss_mb": 120.0,
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    args = parser.parse_args()
    result = subprocess.run(
        [sys.executable, "-m", "pinozcam_klipper.cli", "bench", "--threads", "1",
         "--frames", str(args.frames), "--json"],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        print(result.stderr, file=sys.stderr)
        return 2
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    print(json.dumps(figures, indent=2))
    missed = 0
    for key, limit in TARGETS.items():
        value = figures[key]
        ok = value <= limit
        missed += not ok
        print(f"{'ok  ' if ok else 'MISS'} {key}: {value} (target <= {limit}, "
              f"{value / limit:.2f} of the budget)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
