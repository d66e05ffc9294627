"""Fixtures for the SMS plugin: the OneWaySMS and Twilio fakes on 127.0.0.1, and the plugin
installed against either."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.fakes.onewaysms import FakeOneWaySms
from tests.fakes.twilio import FakeTwilio


@pytest.fixture
def oneway() -> Iterator[FakeOneWaySms]:
    fake = FakeOneWaySms().start()
    yield fake
    fake.stop()


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    fake = FakeTwilio().start()
    yield fake
    fake.stop()


def oneway_settings(fake: FakeOneWaySms, **extra: Any) -> dict[str, Any]:
    return {"provider": "onewaysms", "onewaysms_username": fake.username,
            "onewaysms_password": fake.password, "sender_id": "AcmeTea",
            "onewaysms_url": fake.url, **extra}


def twilio_settings(fake: FakeTwilio, **extra: Any) -> dict[str, Any]:
    return {"provider": "twilio", "twilio_account_sid": fake.account_sid,
            "twilio_auth_token": fake.auth_token, "twilio_from": "+15005550006",
            "twilio_url": fake.url, **extra}
