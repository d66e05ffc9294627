"""The SMS providers behind one interface: OneWaySMS (HTTP GET, plain-text answers) and Twilio
(REST, JSON). Contracts: ``../shared/contracts/README.md``.

Providers speak E.164 numbers and our own status words (``queued``, ``sent``, ``delivered``,
``undelivered``, ``failed``); each formats numbers as its API wants. A provider's refusal becomes
``ProviderError`` with a code and a message a merchant understands. Credentials never appear in
an error: OneWaySMS takes them in the query string, so nothing here quotes a URL, and a logging
filter blanks them in the HTTP client's own request log lines.
"""

from __future__ import annotations

import logging
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urljoin

import httpx

from plugin_sdk import PluginError
from plugins.sms.text import measure, ucs2_hex, ucs2_segments

#: Our status words, from least to most final.
STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
FINAL = {"delivered", "undelivered", "failed"}

_CREDENTIAL_PARAM = re.compile(r"(apiusername|apipassword)=[^&\s\"']*", re.I)


class _RedactQueryCredentials(logging.Filter):
    """httpx logs each request's URL at INFO; OneWaySMS's carries the API credentials."""

    def filter(self, record: logging.LogRecord) -> bool:
        text = record.getMessage()
        if _CREDENTIAL_PARAM.search(text):
            record.msg = _CREDENTIAL_PARAM.sub(r"\1=[redacted]", text)
            record.args = ()
        return True


for _name in ("httpx", "httpcore"):
    _logger = logging.getLogger(_name)
    if not any(isinstance(f, _RedactQueryCredentials) for f in _logger.filters):
        _logger.addFilter(_RedactQueryCredentials())


class ProviderError(PluginError):
    """The provider refused or could not be reached. ``code`` is the provider's (``-600``,
    ``21610``) or ours (``unreachable``, ``unexpected``); ``opted_out`` marks a recipient who
    asked for no more messages; ``retryable`` a failure worth trying again later."""

    def __init__(self, message: str, *, code: str, opted_out: bool = False,
                 retryable: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.opted_out = opted_out
        self.retryable = retryable


@dataclass(frozen=True)
class Sent:
    """What the provider answered for one recipient."""

    provider_id: str
    status: str
    segments: int
    encoding: str


class Provider(ABC):
    name: str
    label: str

    def __init__(self, settings: Any, http: httpx.Client) -> None:
        self.settings = settings
        self.http = http

    @abstractmethod
    def send(self, to: str, text: str, *, status_callback: str | None = None) -> Sent:
        """Send ``text`` to ``to`` (E.164 with ``+``)."""

    @abstractmethod
    def status(self, provider_id: str) -> str | None:
        """The message's status now, or ``None`` if the provider no longer knows it."""

    @abstractmethod
    def balance(self) -> str:
        """The account's credit, as the provider states it (``"1234.50"``, ``"17.43 USD"``)."""

    def _get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self._call("GET", url, **kwargs)

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return self.http.request(method, url, **kwargs)
        except PluginError:
            raise
        except httpx.HTTPError as exc:
            # The exception's text may quote the URL (and so OneWaySMS's credentials): name the
            # kind of failure only.
            raise ProviderError(
                f"{self.label} could not be reached ({type(exc).__name__}); try again later",
                code="unreachable", retryable=True) from None


# --- OneWaySMS ------------------------------------------------------------------------------

ONEWAY_SEND_ERRORS = {
    "-100": "OneWaySMS refused the API username or password",
    "-200": "OneWaySMS refused the sender id (up to 11 letters and digits)",
    "-300": "OneWaySMS refused the mobile number",
    "-400": "OneWaySMS refused the language type",
    "-500": "OneWaySMS refused characters in the message",
    "-600": "insufficient credit: top up the OneWaySMS account",
}
ONEWAY_STATUS = {"0": "delivered", "100": "sent", "-200": "failed"}


class OneWaySms(Provider):
    name = "onewaysms"
    label = "OneWaySMS"

    def _url(self, page: str) -> str:
        base = self.settings["onewaysms_url"]
        return urljoin(base if base.endswith("/") else base + "/", page)

    def _credentials(self) -> dict[str, str]:
        return {"apiusername": self.settings["onewaysms_username"],
                "apipassword": self.settings["onewaysms_password"]}

    def send(self, to: str, text: str, *, status_callback: str | None = None) -> Sent:
        measured = measure(text)
        plain = not measured.unicode and text.isascii()
        segments = measured.segments if plain else ucs2_segments(text)
        params = {
            **self._credentials(),
            "mobileno": to.lstrip("+"),
            "senderid": self.settings["sender_id"],
            "languagetype": "1" if plain else "2",
            "message": text if plain else ucs2_hex(text),
        }
        answer = self._get(self._url("api.aspx"), params=params).text.strip()
        first = answer.split(",")[0].strip()
        if re.fullmatch(r"\d+", first) and int(first) > 0:
            return Sent(provider_id=first, status="sent", segments=segments,
                        encoding="gsm" if plain else "ucs2")
        if first in ONEWAY_SEND_ERRORS:
            raise ProviderError(ONEWAY_SEND_ERRORS[first], code=first)
        raise ProviderError("OneWaySMS gave an answer Kedai does not know "
                            f"({_short(answer)!r})", code="unexpected", retryable=True)

    def status(self, provider_id: str) -> str | None:
        answer = self._get(self._url("bulktrx.aspx"), params={"mtid": provider_id}).text.strip()
        if answer == "-100":
            return None
        return ONEWAY_STATUS.get(answer)

    def balance(self) -> str:
        answer = self._get(self._url("bulkcredit.aspx"), params=self._credentials()).text.strip()
        if answer == "-100":
            raise ProviderError(ONEWAY_SEND_ERRORS["-100"], code="-100")
        try:
            return str(Decimal(answer))
        except InvalidOperation:
            raise ProviderError("OneWaySMS gave an answer Kedai does not know "
                                f"({_short(answer)!r})", code="unexpected") from None


def _short(text: str) -> str:
    return _CREDENTIAL_PARAM.sub(r"\1=[redacted]", text)[:80]


# --- Twilio ---------------------------------------------------------------------------------

TWILIO_ERRORS = {
    20003: "Twilio refused the Account SID or Auth Token",
    21211: "Twilio says the number is not a valid phone number",
    21602: "Twilio needs a message body",
    21610: "the recipient replied STOP and receives no more messages from this number",
    21614: "Twilio says the number is not a mobile number and cannot receive SMS",
    20429: "Twilio is receiving too many requests; try again shortly",
}
TWILIO_STATUS = {
    "accepted": "queued", "scheduled": "queued", "queued": "queued",
    "sending": "sent", "sent": "sent", "receiving": "sent", "received": "delivered",
    "delivered": "delivered", "read": "delivered",
    "undelivered": "undelivered", "failed": "failed", "canceled": "failed",
}


def twilio_status(word: str) -> str | None:
    return TWILIO_STATUS.get(word.lower())


class Twilio(Provider):
    name = "twilio"
    label = "Twilio"

    def _url(self, resource: str) -> str:
        base = self.settings["twilio_url"].rstrip("/")
        return f"{base}/2010-04-01/Accounts/{self.settings['twilio_account_sid']}/{resource}"

    def _auth(self) -> tuple[str, str]:
        return (self.settings["twilio_account_sid"], self.settings["twilio_auth_token"])

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400:
            code = body.get("code") if isinstance(body, dict) else None
            message = TWILIO_ERRORS.get(code) if isinstance(code, int) else None
            if message is None:
                detail = str(body.get("message", ""))[:120] if isinstance(body, dict) else ""
                message = f"Twilio refused the request ({code or response.status_code}: {detail})"
            raise ProviderError(message, code=str(code or response.status_code),
                                opted_out=code == 21610,
                                retryable=code == 20429 or response.status_code >= 500)
        return body if isinstance(body, dict) else {}

    def send(self, to: str, text: str, *, status_callback: str | None = None) -> Sent:
        sender = self.settings["twilio_from"]
        form = {"To": to, "Body": text}
        form["MessagingServiceSid" if sender.startswith("MG") else "From"] = sender
        if status_callback:
            form["StatusCallback"] = status_callback
        body = self._json(self._call("POST", self._url("Messages.json"), data=form,
                                     auth=self._auth()))
        measured = measure(text)
        try:
            segments = int(body.get("num_segments") or measured.segments)
        except (TypeError, ValueError):
            segments = measured.segments
        return Sent(provider_id=str(body.get("sid", "")),
                    status=twilio_status(str(body.get("status", "queued"))) or "queued",
                    segments=segments, encoding=measured.encoding)

    def status(self, provider_id: str) -> str | None:
        try:
            body = self._json(self._get(self._url(f"Messages/{provider_id}.json"),
                                        auth=self._auth()))
        except ProviderError as error:
            if error.code in ("20404", "404"):
                return None
            raise
        return twilio_status(str(body.get("status", "")))

    def balance(self) -> str:
        body = self._json(self._get(self._url("Balance.json"), auth=self._auth()))
        return f"{body.get('balance', '?')} {body.get('currency', '')}".strip()


PROVIDERS: dict[str, type[Provider]] = {"onewaysms": OneWaySms, "twilio": Twilio}


def provider_for(settings: Any, http: httpx.Client) -> Provider:
    return PROVIDERS[settings["provider"]](settings, http)
