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


ROOT = README.parent
USER_DOCS = [README, *sorted((ROOT / "docs").glob("*.md")), *sorted((ROOT / "moonraker_component").glob("*.example"))]


def _subcommand_options() -> dict[str, set[str]]:
    from pinozcam_klipper.cli import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if a.dest == "command"]
    return {name: set(sub._option_string_actions) for name, sub in subparsers.choices.items()}


def test_readme_says_which_commands_take_config_model_and_preset():
    import re

    text = " ".join(README.read_text(encoding="utf-8").split())
    names = r"((?:`[\w-]+`(?:, | and ))*`[\w-]+`)"
    match = re.search(names + r" also take `--config FILE` \(YAML, below\), `--model PATH` and `--preset NAME`; "
                      + names + r" take `--config FILE` only; " + names + r" take none of them", text)
    assert match, "README's sentence on --config / --model / --preset is missing"
    all_three, config_only, neither = (set(re.findall(r"`([\w-]+)`", group)) for group in match.groups())
    options = _subcommand_options()
    assert all_three | config_only | neither == set(options)
    for name, given in options.items():
        takes = {"--config", "--model", "--preset"} & given
        expected = ({"--config", "--model", "--preset"} if name in all_three
                    else {"--config"} if name in config_only else set())
        assert takes == expected, f"README is wrong about `pinozcam {name}`: it takes {sorted(takes)}"


def test_install_commands_in_the_docs_work_as_written():
    import re

    for path in USER_DOCS:
        text = path.read_text(encoding="utf-8")
        # One repository, the one moonraker.conf.example's update_manager pulls from.
        for owner in re.findall(r"github\.com/([\w.-]+)/pinozcam-klipper", text):
            assert owner == "pinozcam", f"{path.name}: github.com/{owner}/pinozcam-klipper"
        # Not on PyPI: a bare `pip install pinozcam-klipper` finds nothing.
        assert not re.search(r"pip install (\"?)pinozcam-klipper\1(\s|`|$)", text), path.name
        # install.sh does not put `pinozcam` on PATH: prose and examples name the venv's command
        # (the command table in the README says so once, above it).
        for line in text.splitlines():
            if "pinozcam doctor" in line and not line.startswith("|"):
                assert "~/pinozcam-env/bin/pinozcam doctor" in line, f"{path.name}: {line.strip()}"
