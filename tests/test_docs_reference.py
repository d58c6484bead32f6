"""The README's configuration reference is the one the code would generate."""

from pathlib import Path

from pinozcam_klipper.docs_reference import BEGIN, END, render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_reference_matches_the_settings_code():
    content = README.read_text(encoding="utf-8")
    block = content.split(BEGIN, 1)[1].split(END, 1)[0].strip()
    assert block == render().strip(), (
        "README's configuration reference is stale: run "
        "`python -m pinozcam_klipper.docs_reference --write README.md`")
