"""Notification settings and the redaction helper."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from pinozcam_klipper.notify import NotifySettings
from pinozcam_klipper.options import SettingsError, load_section, section_to_dict
from pinozcam_klipper.redact import RedactingFilter, Redactor, redact_url_credentials
from pinozcam_klipper.settings import Settings

URL = "https://discord.com/api/webhooks/1234/SECRETTOKENabcdefgh"


def test_secrets_never_in_repr_or_dict() -> None:
    s = load_section(NotifySettings, {"discord_webhook_url": URL, "telegram_bot_token": "1:SECRETKEYxyz123"})
    for text in (repr(s), str(s), str(section_to_dict(s))):
        assert "SECRET" not in text
    assert s.discord_enabled and not s.telegram_enabled  # no chat id yet


@pytest.mark.parametrize("key, value", [
    ("discord_webhook_url", "discord.com/api/webhooks/1/SECRETxyz"),
    ("telegram_bot_token", "SECRET token with spaces"),
    # Pasted from a chat app or a web page: invisible or full-width characters in the host,
    # which passed before and then stopped the worker at its first start.
    ("discord_webhook_url", "https://disc\u200bord.com/api/webhooks/1/SECRETxyz"),
    ("discord_webhook_url", "https://\ufeffdiscord.com/api/webhooks/1/SECRETxyz"),
    ("discord_webhook_url", "https://\uff44iscord.com/api/webhooks/1/SECRETxyz"),
    ("discord_webhook_url", "https://discord.com\u00a0/api/webhooks/1/SECRETxyz"),
    # ... or after the token, where the URL still parses: it was sent percent-encoded, and the
    # log line httpx writes about it escaped the redaction of the URL as written.
    ("discord_webhook_url", "https://discord.com/api/webhooks/1/SECRETxyz\u200b"),
    ("discord_webhook_url", "https://discord.com/api/webhooks/1/SECRET\u00e9xyz"),
    ("telegram_bot_token", "987654:SECRETabcdefghij\u200b"),
    ("telegram_bot_token", "987654:SECRET\u00e9abcdefghij"),
    ("telegram_bot_token", "987654:SECRET.abcdefghij"),
    ("telegram_bot_token", "bot987654:SECRETabcdefghij"),
    ("telegram_bot_token", "SECRETabcdefghij")])
def test_bad_secret_is_rejected_without_echoing_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key) as info:
        load_section(NotifySettings, {key: value})
    assert "SECRET" not in str(info.value)


def test_a_token_with_an_invisible_character_says_so() -> None:
    with pytest.raises(SettingsError) as info:
        load_section(NotifySettings, {"telegram_bot_token": "987654:SECRETabcdefghij\u200b"})
    assert "invisible or non-Latin character" in str(info.value)


@pytest.mark.parametrize("token", ["123:abc", "987654:AAH-telegram_secret-key-ZZ09"])
def test_tokens_as_botfather_gives_them_are_taken(token: str) -> None:
    assert load_section(NotifySettings, {"telegram_bot_token": f" {token}\n"}).telegram_bot_token == token


def test_other_options_are_validated() -> None:
    assert load_section(NotifySettings, {"telegram_chat_id": -100123}).telegram_chat_id == "-100123"
    with pytest.raises(SettingsError, match="notify_interval"):
        load_section(NotifySettings, {"notify_interval": -1})
    with pytest.raises(SettingsError, match="telegram_api_base"):
        load_section(NotifySettings, {"telegram_api_base": "api.telegram.org"})


def test_redactor_hides_whole_urls_and_their_token_parts() -> None:
    redact = Redactor([URL, "123:SECRETKEYxyz123", ""])
    assert redact(f"POST {URL}?wait=true failed") == "POST <redacted>?wait=true failed"
    assert "SECRET" not in redact("token SECRETTOKENabcdefgh and key SECRETKEYxyz123")
    assert redact_url_credentials("http://me:pw@cam:8080/x") == "http://<redacted>@cam:8080/x"


def test_redactor_hides_secrets_as_a_request_url_carries_them() -> None:
    """httpx percent-encodes what a URL may not hold (a zero-width space pasted in after the
    token) and logs the request URL so: the raw secret alone would not match that line."""
    token, url = "987654:SECRETKEYxyz123\u200b", URL + "\u200b"
    redact = Redactor([token, url])
    for logged in (str(httpx.URL(f"https://api.telegram.org/bot{token}/sendMessage")),
                   str(httpx.URL(url).copy_merge_params({"wait": "true"})),
                   str(httpx.URL("https://example.com/", params={"token": token}))):
        assert "%E2%80%8B" in logged  # the form being tested
        assert "SECRET" not in redact(f"HTTP Request: POST {logged}")


def test_filter_redacts_args_and_tracebacks(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("tests.redact")
    redacting = RedactingFilter(Redactor([URL]))
    log.addFilter(redacting)
    try:
        with caplog.at_level(logging.INFO, logger="tests.redact"):
            log.info("posting to %s", URL)
            try:
                raise RuntimeError(f"failed {URL}")
            except RuntimeError:
                log.exception("boom")
    finally:
        log.removeFilter(redacting)
    assert "SECRET" not in caplog.text
    assert "posting to <redacted>" in caplog.text and "RuntimeError: failed <redacted>" in caplog.text


@pytest.mark.parametrize("chat_id", ["abc", "12ab", "@x", "-"])
def test_a_malformed_telegram_chat_id_is_refused(chat_id):
    with pytest.raises(SettingsError) as error:
        load_section(NotifySettings, {"telegram_chat_id": chat_id})
    assert error.value.option == "telegram_chat_id"


@pytest.mark.parametrize("chat_id", ["123456789", "-100123456789", "@my_printer_channel"])
def test_telegram_chat_ids_in_every_documented_form_are_taken(chat_id):
    assert load_section(NotifySettings, {"telegram_chat_id": chat_id}).telegram_chat_id == chat_id


def test_telegram_topic_id_is_a_whole_number_not_below_zero() -> None:
    assert load_section(NotifySettings, {}).telegram_topic_id == 0
    assert load_section(NotifySettings, {"telegram_topic_id": "77"}).telegram_topic_id == 77
    with pytest.raises(SettingsError, match=r"option 'telegram_topic_id': -1 is not valid; expected a number >= 0"):
        load_section(NotifySettings, {"telegram_topic_id": -1})
    with pytest.raises(SettingsError, match="telegram_topic_id"):
        load_section(NotifySettings, {"telegram_topic_id": 7.5})


@pytest.mark.parametrize("text, where", [
    # A stray ": " inside the token.
    ("notify:\n  discord_webhook_url: https://discord.com/api/webhooks/1234/whSECRETabcdefgh\n"
     "  telegram_bot_token: 987654:BOTSECRETabcdef: ghijklmnop\n",
     "mapping values are not allowed here at line 3, column 45"),
    # A quote left open: PyYAML quoted the line holding the token.
    ('notify:\n  telegram_bot_token: "987654:BOTSECRETabcdefghijklmnop\n  telegram_chat_id: 123\n',
     "while scanning a quoted scalar from line 2, column 23: found unexpected end of stream at line 4, column 1"),
    # A tag PyYAML cannot read: its own message names the tag.
    ("notify:\n  telegram_bot_token: !<987654:BOTSECRETabcdefghijklmnop> x\n",
     "could not determine a constructor for the tag '…' at line 2, column 23")])
def test_a_yaml_mistake_says_where_it_is_without_showing_the_line(tmp_path: Path, text: str, where: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from pinozcam_klipper.cli import main

    config = tmp_path / "pinozcam.yaml"
    config.write_text(text)
    assert main(["notify-test", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"expected valid YAML ({where})" in err
    for secret in ("BOTSECRET", "ghijklmnop", "whSECRET"):
        assert secret not in err


def test_a_yaml_file_with_a_control_character_says_where(tmp_path: Path) -> None:
    config = tmp_path / "pinozcam.yaml"
    config.write_text("notify:\n  telegram_bot_token: 987654:BOTSECRET\x01abcdef\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_yaml(config)
    assert "special characters are not allowed at line 2, column 39" in str(info.value)
    assert "BOTSECRET" not in str(info.value)


def test_a_date_that_is_no_date_is_a_settings_error_not_a_crash(tmp_path: Path) -> None:
    # PyYAML reads 2024-13-45 as a timestamp and raises datetime's ValueError, not a YAMLError.
    config = tmp_path / "pinozcam.yaml"
    config.write_text("detection:\n  score_threshold: 2024-13-45\n")
    with pytest.raises(SettingsError) as info:
        Settings.from_yaml(config)
    assert "expected valid YAML (a date that is not one: month must be in 1..12)" in str(info.value)
