"""The outgoing-mail mechanism's pure parts (decision 0602): the SMTP settings mixin read from a
service's environment, recipients that name a user id, and the wait of a message whose recipient
could not be resolved yet. The worker itself runs against real SMTP and a real gateway in the
refunds suite (services/refunds/tests/test_emails.py) and in the orders suite."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

from homecraft_shared.outgoing_mail import SmtpSettings, user_recipient
from homecraft_shared.settings import ServiceSettings, SmtpSettingsMixin


class MailingSettings(ServiceSettings, SmtpSettingsMixin):
    model_config = SettingsConfigDict(env_prefix="MAILSVC_", extra="ignore")


def test_the_smtp_mixin_reads_the_services_prefix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSVC_SMTP_PORT", "2525")
    monkeypatch.setenv("MAILSVC_SMTP_PASSWORD", "s3cret")
    monkeypatch.setenv("MAILSVC_MAIL_BACKOFF_SECONDS", "[1, 4]")
    settings = MailingSettings()
    assert "s3cret" not in repr(settings)  # a secret, never printed
    smtp = settings.smtp()
    assert (smtp.port, smtp.password, smtp.backoff_seconds, smtp.max_attempts) == (2525, "s3cret", (1.0, 4.0), 8)


def test_the_smtp_mixin_refuses_a_bad_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAILSVC_SMTP_PORT", "70000")
    with pytest.raises(ValidationError, match="smtp_port"):
        MailingSettings()


def test_a_recipient_is_an_address_or_a_user_id() -> None:
    assert user_recipient("user:seller-ada") == "seller-ada"
    assert user_recipient("ada@example.com") is None


@pytest.mark.parametrize(("age", "wait"), [(0.0, 2.0), (1.0, 2.0), (45.0, 45.0), (700.0, 700.0), (99_999.0, 1800.0)])
def test_an_unresolved_recipient_waits_as_long_as_it_has_waited_within_the_backoff_bounds(age: float, wait: float) -> None:
    assert SmtpSettings().delay_for_age(age) == wait
