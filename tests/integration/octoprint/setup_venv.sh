#!/usr/bin/env bash
# Create .venv-octoprint in the repository root: OctoPrint (PyPI) plus this package, editable,
# the way a user's OctoPrint venv holds the plugin after an install by URL. The OctoPrint tests
# (tests/integration/test_octoprint*.py) run OctoPrint and the worker from this venv.
#
# Why a separate venv: OctoPrint 1.11 needs pyserial>=3.5 while the test extras pin
# pyserial==3.4 for klippy, it downgrades packaging (<25), and it brings ~60 packages (Flask,
# tornado, sentry-sdk...). Our runtime deps (numpy 2, opencv, ai-edge-litert, websockets, httpx)
# install beside OctoPrint without conflict: that is what this venv checks with `pip check`.
# The tests themselves run in .venv; this venv only runs OctoPrint, the plugin and the worker.
# Idempotent: a second run only checks (seconds). Used by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/../../.."

OCTOPRINT_SPEC="${OCTOPRINT_SPEC:-octoprint>=1.11,<1.12}"
VENV=.venv-octoprint
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
ROOT="$(pwd)"
# Checked from / : in the repository root a stale pinozcam_klipper.egg-info would hide the
# installed metadata (and its entry points).
if (cd / && "$ROOT/$VENV/bin/python" - <<'PY' 2>/dev/null)
import importlib.metadata as md, sys
import octoprint, pinozcam_klipper.octoprint, numpy, cv2, websockets, httpx, yaml  # noqa: F401
import ai_edge_litert  # noqa: F401
eps = [e for e in md.entry_points(group="octoprint.plugin") if e.name == "pinozcam"]
sys.exit(0 if eps else 1)
PY
then
    echo "setup_venv.sh: $VENV ready"
    exit 0
fi
# One resolver run for both, so neither can silently break the other's pins.
"$VENV/bin/pip" install -q "$OCTOPRINT_SPEC" -e .
"$VENV/bin/pip" check
echo "setup_venv.sh: $VENV installed"
