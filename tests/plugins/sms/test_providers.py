"""The provider layer against the fakes: exact requests, Unicode, segments, statuses, balances,
every documented error code as a clear message, and credentials kept out of errors and logs."""

from __future__ import annotations

import base64
import logging
from decimal import Decimal

import httpx
import pytest
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict

from plugins.sms.providers import OneWaySms, ProviderError, Twilio
from plugins.sms.text import measure, ucs2_hex
from plugins.sms.webhooks import twilio_signature, valid_twilio_signature
from tests.fakes.twilio import sign
from tests.plugins.sms.conftest import oneway_settings, twilio_settings

#: The contract's documented vector.
VECTOR_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
VECTOR_PARAMS = {"CallSid": "CA1234567890ABCDE", "Caller": "+14158675309", "Digits": "1234",
                 "From": "+14158675309", "To": "+18005551212"}
VECTOR_SIGNATURE = "RSOYDt4T1cUTdK1PDd93/VVr8B8="


@pytest.fixture
def http():
    with httpx.Client(timeout=5) as client:
        yield client


# --- text ------------------------------------------------------------------------------------


def test_ucs2_hex_is_the_documented_example():
    assert ucs2_hex("你好 hi") == "4F60597D002000680069"


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("a" * 160, "gsm", 1),
    ("a" * 161, "gsm", 2),
    ("a" * 306, "gsm", 2),
    ("a" * 307, "gsm", 3),
    ("{" * 80, "gsm", 1),          # extension characters count twice
    ("{" * 81, "gsm", 2),
    ("中" * 70, "ucs2", 1),
    ("中" * 71, "ucs2", 2),
    ("中" * 134, "ucs2", 2),
    ("中" * 135, "ucs2", 3),
    ("Hi 😀", "ucs2", 1),           # outside the BMP: two UCS-2 units
])
def test_segments(text, encoding, segments):
    measured = measure(text)
    assert (measured.encoding, measured.segments) == (encoding, segments)


# --- OneWaySMS -------------------------------------------------------------------------------


def test_oneway_sends_plain_text_with_the_documented_query(oneway, http):
    sent = OneWaySms(oneway_settings(oneway), http).send("+60123456789", "Your order shipped & ok")
    [request] = oneway.server.requests
    assert request.path == "/api.aspx"
    assert request.args == {"apiusername": "kedai", "apipassword": "p@ss w0rd&=",
                            "mobileno": "60123456789", "senderid": "AcmeTea",
                            "languagetype": "1", "message": "Your order shipped & ok"}
    assert sent.provider_id == str(oneway.sent[0].mtid)
    assert (sent.status, sent.segments, sent.encoding) == ("sent", 1, "gsm")
    assert oneway.sent[0].text == "Your order shipped & ok"


def test_oneway_sends_chinese_as_ucs2_hex(oneway, http):
    text = "你好 您的訂單已發貨 🍵" + "茶" * 60
    sent = OneWaySms(oneway_settings(oneway), http).send("+60123456789", text)
    [request] = oneway.server.requests
    assert request.args["languagetype"] == "2"
    assert request.args["message"] == text.encode("utf-16-be").hex().upper()
    assert oneway.sent[0].text == text
    assert sent.segments == 2 == oneway.sent[0].segments
    assert oneway.credit == Decimal("98.00")


def test_oneway_accented_latin_goes_as_unicode(oneway, http):
    OneWaySms(oneway_settings(oneway), http).send("+60123456789", "Café crème")
    assert oneway.server.requests[0].args["languagetype"] == "2"
    assert oneway.sent[0].text == "Café crème"


@pytest.mark.parametrize(("change", "code", "words"), [
    ({"onewaysms_password": "wrong"}, "-100", "username or password"),
    ({"sender_id": "Far too long sender"}, "-200", "sender id"),
])
def test_oneway_refusals_become_clear_messages(oneway, http, change, code, words):
    with pytest.raises(ProviderError) as caught:
        OneWaySms(oneway_settings(oneway, **change), http).send("+60123456789", "hi")
    assert caught.value.code == code
    assert words in caught.value.message
    assert "p@ss" not in str(caught.value) and "wrong" not in str(caught.value)


def test_oneway_bad_number_and_insufficient_credit(oneway, http):
    provider = OneWaySms(oneway_settings(oneway), http)
    with pytest.raises(ProviderError) as bad:
        provider.send("+6", "hi")
    assert bad.value.code == "-300"
    oneway.credit = Decimal("0.5")
    with pytest.raises(ProviderError) as broke:
        provider.send("+60123456789", "hi")
    assert broke.value.code == "-600"
    assert broke.value.message == "insufficient credit: top up the OneWaySMS account"
    assert not oneway.sent


def test_oneway_delivery_status_and_balance(oneway, http):
    provider = OneWaySms(oneway_settings(oneway), http)
    first = provider.send("+60123456789", "one")
    second = provider.send("+60123456780", "two")
    third = provider.send("+60123456781", "three")
    oneway.statuses[int(first.provider_id)] = 0
    oneway.statuses[int(third.provider_id)] = -200
    assert provider.status(first.provider_id) == "delivered"
    assert provider.status(second.provider_id) == "sent"
    assert provider.status(third.provider_id) == "failed"
    assert provider.status("999") is None
    assert provider.balance() == "97.00"
    assert oneway.server.requests[-1].path == "/bulkcredit.aspx"
    with pytest.raises(ProviderError) as caught:
        OneWaySms(oneway_settings(oneway, onewaysms_password="nope"), http).balance()
    assert caught.value.code == "-100"


def test_oneway_unreachable_names_no_credentials(oneway, http):
    settings = oneway_settings(oneway, onewaysms_url="http://127.0.0.1:9/")
    with pytest.raises(ProviderError) as caught:
        OneWaySms(settings, http).send("+60123456789", "hi")
    assert caught.value.code == "unreachable"
    assert "p@ss" not in str(caught.value) and "kedai" not in str(caught.value)


def test_http_client_log_lines_do_not_carry_the_credentials(oneway, http, caplog):
    caplog.set_level(logging.DEBUG)
    OneWaySms(oneway_settings(oneway), http).send("+60123456789", "hi")
    # Kedai's side only: the fake's own werkzeug access log is the provider's end.
    lines = "\n".join(record.getMessage() for record in caplog.records
                      if not record.name.startswith("werkzeug"))
    assert "api.aspx" in lines                       # the request was logged …
    assert "apipassword=[redacted]" in lines         # … with its credentials blanked
    assert "w0rd" not in lines and "apiusername=kedai" not in lines


# --- Twilio ----------------------------------------------------------------------------------


def test_twilio_sends_form_with_basic_auth(twilio, http):
    sent = Twilio(twilio_settings(twilio), http).send(
        "+60123456789", "您好 from Acme", status_callback="https://crm.example.com/cb")
    [request] = twilio.server.requests
    assert request.method == "POST"
    assert request.path == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages.json"
    assert request.form == {"To": ["+60123456789"], "Body": ["您好 from Acme"],
                            "From": ["+15005550006"],
                            "StatusCallback": ["https://crm.example.com/cb"]}
    expected = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {expected}"
    assert sent.provider_id.startswith("SM") and len(sent.provider_id) == 34
    assert (sent.status, sent.segments, sent.encoding) == ("queued", 1, "ucs2")


def test_twilio_messaging_service_sender(twilio, http):
    sid = "MG" + "ab" * 16
    Twilio(twilio_settings(twilio, twilio_from=sid), http).send("+60123456789", "hi")
    assert twilio.server.requests[0].form["MessagingServiceSid"] == [sid]
    assert "From" not in twilio.server.requests[0].form


@pytest.mark.parametrize(("prepare", "to", "code", "words", "opted_out", "retryable"), [
    (lambda f: None, "+6", "21211", "not a valid phone number", False, False),
    (lambda f: f.opted_out.add("+60123456789"), "+60123456789", "21610", "replied STOP", True,
     False),
    (lambda f: f.landlines.add("+60312345678"), "+60312345678", "21614", "not a mobile", False,
     False),
    (lambda f: setattr(f, "throttle", True), "+60123456789", "20429", "too many", False, True),
])
def test_twilio_errors(twilio, http, prepare, to, code, words, opted_out, retryable):
    prepare(twilio)
    with pytest.raises(ProviderError) as caught:
        Twilio(twilio_settings(twilio), http).send(to, "hi")
    error = caught.value
    assert (error.code, error.opted_out, error.retryable) == (code, opted_out, retryable)
    assert words in error.message


def test_twilio_bad_credentials_and_missing_body(twilio, http):
    with pytest.raises(ProviderError) as caught:
        Twilio(twilio_settings(twilio, twilio_auth_token="0" * 32), http).send("+60123456789", "x")
    assert caught.value.code == "20003"
    assert "0" * 32 not in str(caught.value)
    with pytest.raises(ProviderError) as empty:
        Twilio(twilio_settings(twilio), http).send("+60123456789", "")
    assert empty.value.code == "21602"


def test_twilio_status_and_balance(twilio, http):
    provider = Twilio(twilio_settings(twilio), http)
    sent = provider.send("+60123456789", "hi", status_callback="https://x.example/cb")
    assert provider.status(sent.provider_id) == "queued"
    twilio.status_callback(sent.provider_id, "delivered")
    assert provider.status(sent.provider_id) == "delivered"
    assert provider.status("SM" + "0" * 32) is None
    assert provider.balance() == "17.43 USD"


# --- the status callback's signature ---------------------------------------------------------


def test_signature_matches_the_documented_vector():
    assert twilio_signature("12345", VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE
    assert valid_twilio_signature("12345", VECTOR_URL, VECTOR_PARAMS, VECTOR_SIGNATURE)
    assert sign("12345", VECTOR_URL, VECTOR_PARAMS) == VECTOR_SIGNATURE  # the fake agrees


def test_signature_agrees_with_twilios_request_validator():
    validator = RequestValidator("f00dfeed")
    cases = [
        ("https://crm.example.com/hooks/acme/sms/twilio/status",
         {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "To": "+60123456789"}),
        ("https://crm.example.com/a?b=1&c=%20", {"Body": "你好 & bye", "Empty": ""}),
        ("http://127.0.0.1:5000/x", {"Multi": ["b", "a", "b"], "Z": "1"}),
    ]
    for url, params in cases:
        ours = twilio_signature("f00dfeed", url, params)
        as_form = MultiDict([(k, v) for k, vs in params.items()
                             for v in (vs if isinstance(vs, list) else [vs])])
        assert ours == validator.compute_signature(url, as_form)
        assert validator.validate(url, as_form, ours)
        assert valid_twilio_signature("f00dfeed", url, params, ours)
        assert not valid_twilio_signature("f00dfeed", url + "x", params, ours)
        assert not valid_twilio_signature("other", url, params, ours)
