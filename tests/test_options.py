"""What a user is told about an option that does not exist (pinozcam_klipper/options.py).

moonraker.conf, the panel and OctoPrint send every option in one flat mapping: a typo in a
camera or notification option must get the name it was close to, and one close to nothing
must be told where every option is listed, not a list of the detection options only.
"""

from __future__ import annotations

import pytest

from pinozcam_klipper.settings import Settings, SettingsError


def _refusal(data: dict) -> str:
    with pytest.raises(SettingsError) as info:
        Settings.from_mapping(data)
    return str(info.value)


@pytest.mark.parametrize("typo, meant", [
    ("camra_timeout", "camera_timeout"),
    ("telegram_token", "telegram_bot_token"),
    ("discord_webhook", "discord_webhook_url"),
    ("score_treshold", "score_threshold"),
])
def test_a_typo_is_answered_with_the_option_it_was_close_to(typo: str, meant: str) -> None:
    message = _refusal({typo: "123:SECRET"})
    assert message.startswith(f"unknown option '{typo}'; expected a known option (did you mean '{meant}'")
    assert "SECRET" not in message  # a misspelt token is still a secret


@pytest.mark.parametrize("data", [{"bogus_opt": 1}, {"camera": {"bogus_opt": 1}}])
def test_an_option_close_to_nothing_is_told_where_the_full_list_is(data: dict) -> None:
    message = _refusal(data)
    assert message == ("unknown option 'bogus_opt'; expected a known option (no option has a name close "
                       "to it; the configuration reference in the README lists every option)")
