"""Generate the README's configuration reference from the settings dataclasses.

``python -m pinozcam_klipper.docs_reference`` prints the tables;
``python -m pinozcam_klipper.docs_reference --write README.md`` replaces the
block between the BEGIN/END markers. ``tests/test_docs_reference.py`` fails when
the README and the code disagree, so a default is documented in one place only.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from .options import option_docs
from .settings import _SECTIONS

BEGIN = "<!-- BEGIN CONFIG REFERENCE -->"
END = "<!-- END CONFIG REFERENCE -->"

_TITLES = {
    "detection": "Detection (the decision engine)",
    "model": "Model and CPU",
    "camera": "Camera",
    "notify": "Notifications",
    "worker": "Worker",
}


def _show_default(value: object) -> str:
    if value is None:
        return "(unset)"
    if value == "" or value == ():
        return "(empty)"
    if isinstance(value, (list, tuple, dict)):
        return "`" + json.dumps(value) + "`"
    return f"`{value}`"


def render() -> str:
    lines = [
        "Options are the same everywhere: nested by section in a YAML file (`detection:`,",
        "`camera:` ...), flat in Moonraker's `[pinozcam]` section and in OctoPrint's settings.",
        "",
    ]
    for name, kind in _SECTIONS.items():
        lines += [f"### {_TITLES.get(name, name)} (`{name}:`)", "", "| option | default | meaning |",
                  "| --- | --- | --- |"]
        for option, default, doc in option_docs(kind):
            lines.append(f"| `{option}` | {_show_default(default)} | {doc.replace('|', '/')} |")
        lines.append("")
    presets = _preset_table()
    if presets:
        lines += presets
    return "\n".join(lines).rstrip() + "\n"


def _preset_table() -> list[str]:
    try:
        from .engine.presets import PRESETS
    except ImportError:
        return []
    rows = ["### Presets", "", "| preset | " + " | ".join(_preset_columns(PRESETS)) + " |",
            "| --- |" + " --- |" * len(_preset_columns(PRESETS))]
    for name, values in PRESETS.items():
        values = dataclasses.asdict(values) if dataclasses.is_dataclass(values) else dict(values)
        rows.append(f"| `{name}` | " + " | ".join(str(values.get(c, "")) for c in _preset_columns(PRESETS)) + " |")
    return rows + [""]


def _preset_columns(presets: dict) -> list[str]:
    first = next(iter(presets.values()))
    values = dataclasses.asdict(first) if dataclasses.is_dataclass(first) else dict(first)
    return [key for key in values if key != "name"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="print or write the configuration reference")
    parser.add_argument("--write", metavar="README", help="replace the block in this file")
    args = parser.parse_args(argv)
    text = render()
    if not args.write:
        sys.stdout.write(text)
        return 0
    path = Path(args.write)
    content = path.read_text(encoding="utf-8")
    head, _, rest = content.partition(BEGIN)
    _, _, tail = rest.partition(END)
    path.write_text(f"{head}{BEGIN}\n{text}{END}{tail}", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
