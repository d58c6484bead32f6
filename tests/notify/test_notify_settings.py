"""Notification settings and the redaction helper."""

from __future__ import annotations

import logging

import pytest

from pinozcam_klipper.notify import NotifySettings
from pinozcam_klipper.options import SettingsError, load_section, section_to_dict
from pinozcam_klipper.redact import RedactingFilter, Redactor, redact_url_credentials

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
    ("discord_webhook_url", "https://discord.com\u00a0/api/webhooks/1/SECRETxyz")])
def test_bad_secret_is_rejected_without_echoing_it(key: str, value: str) -> None:
    with pytest.raises(SettingsError, match=key) as info:
        load_section(NotifySettings, {key: value})
    assert "SECRET" not in str(info.value)


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
