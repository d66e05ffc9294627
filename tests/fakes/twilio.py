"""Twilio Programmable Messaging on 127.0.0.1, following ``../shared/contracts/README.md``.

- ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json``, form-encoded, HTTP Basic
  ``AccountSid:AuthToken`` → 201 JSON (``sid`` = ``SM`` + 32 hex, ``status`` ``queued``, ``to``,
  ``from``, ``num_segments``, ``error_code``, ``error_message``), or an error body ``{code,
  message, more_info, status}``: 20003 authentication (401), 21211 invalid ``To``, 21602 missing
  body, 21610 recipient opted out, 21614 not a mobile number (400), 20429 too many requests (429).
- ``GET …/Messages/{sid}.json`` → the message with its current status.
- ``GET …/Balance.json`` → ``{account_sid, balance, currency}`` (Twilio's balance resource).
- ``status_callback(sid, status)`` builds the form POST Twilio would send to the message's
  ``StatusCallback``, signed with ``X-Twilio-Signature`` exactly as Twilio signs it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer

ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "f00dfeedf00dfeedf00dfeedf00dfeed"


def sign(auth_token: str, url: str, params: dict[str, str | list[str]]) -> str:
    """``X-Twilio-Signature``: base64 HMAC-SHA1 of the URL followed by each POST parameter
    name in sorted order and its value(s) sorted."""
    payload = url
    for name in sorted(params):
        values = params[name]
        for value in sorted(set(values if isinstance(values, list) else [values])):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def gsm_segments(body: str) -> int:
    unicode = any(ord(c) > 0x7F for c in body)
    single, part = (70, 67) if unicode else (160, 153)
    return 1 if len(body) <= single else -(-len(body) // part)


@dataclass
class FakeMessage:
    sid: str
    to: str
    from_: str
    body: str
    status: str
    num_segments: int
    status_callback: str | None
    error_code: int | None = None
    history: list[str] = field(default_factory=list)

    def resource(self, account_sid: str) -> dict[str, Any]:
        return {
            "sid": self.sid, "account_sid": account_sid, "to": self.to, "from": self.from_,
            "body": self.body, "status": self.status, "num_segments": str(self.num_segments),
            "direction": "outbound-api", "error_code": self.error_code,
            "error_message": None, "price": None, "price_unit": "USD",
            "api_version": "2010-04-01",
            "uri": f"/2010-04-01/Accounts/{account_sid}/Messages/{self.sid}.json",
        }


class FakeTwilio:
    """State a test sets (``opted_out``, ``landlines``, ``throttle``, ``balance``) and reads
    (``messages``, ``server.requests``)."""

    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: dict[str, FakeMessage] = {}
        self.opted_out: set[str] = set()
        self.landlines: set[str] = set()
        self.throttle = False
        self.balance = "17.43"
        self._seq = itertools.count(1)
        self.server = LocalServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> FakeTwilio:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    # --- HTTP ---------------------------------------------------------------------------------

    @staticmethod
    def error(code: int, message: str, status: int) -> Response:
        body = {"code": code, "message": message,
                "more_info": f"https://www.twilio.com/docs/errors/{code}", "status": status}
        return Response(json.dumps(body), status=status, content_type="application/json")

    def handle(self, request: Request) -> Response:
        match = re.fullmatch(r"/2010-04-01/Accounts/([^/]+)/(.+)", request.path)
        if not match:
            return self.error(20404, "The requested resource was not found", 404)
        auth = request.authorization
        if (match.group(1) != self.account_sid or auth is None
                or auth.username != self.account_sid or auth.password != self.auth_token):
            return self.error(20003, "Authenticate", 401)
        rest = match.group(2)
        if rest == "Messages.json" and request.method == "POST":
            return self.create_message(request)
        found = re.fullmatch(r"Messages/(SM[0-9a-f]{32})\.json", rest)
        if found and request.method == "GET":
            message = self.messages.get(found.group(1))
            if message is None:
                return self.error(20404, "The requested resource was not found", 404)
            return self.json(message.resource(self.account_sid))
        if rest == "Balance.json" and request.method == "GET":
            return self.json({"account_sid": self.account_sid, "balance": self.balance,
                              "currency": "USD"})
        return self.error(20404, "The requested resource was not found", 404)

    @staticmethod
    def json(body: dict[str, Any], status: int = 200) -> Response:
        return Response(json.dumps(body), status=status, content_type="application/json")

    def create_message(self, request: Request) -> Response:
        if self.throttle:
            return self.error(20429, "Too Many Requests", 429)
        to = request.form.get("To", "")
        sender = request.form.get("From") or request.form.get("MessagingServiceSid")
        body = request.form.get("Body", "")
        if not re.fullmatch(r"\+[1-9]\d{6,14}", to):
            return self.error(21211, f"The 'To' number {to} is not a valid phone number.", 400)
        if not sender:
            return self.error(21603, "A 'From' or 'MessagingServiceSid' parameter is "
                              "required to send a message", 400)
        if not body:
            return self.error(21602, "Message body is required.", 400)
        if to in self.opted_out:
            return self.error(21610, "Attempt to send to unsubscribed recipient", 400)
        if to in self.landlines:
            return self.error(21614, f"'To' number {to} is not a valid mobile number", 400)
        sid = "SM" + secrets.token_hex(16)
        message = FakeMessage(sid=sid, to=to, from_=sender, body=body, status="queued",
                              num_segments=gsm_segments(body),
                              status_callback=request.form.get("StatusCallback"))
        message.history.append("queued")
        self.messages[sid] = message
        return self.json(message.resource(self.account_sid), status=201)

    # --- status callbacks ---------------------------------------------------------------------

    def status_callback(self, sid: str, status: str, error_code: int | None = None
                        ) -> tuple[str, dict[str, str], dict[str, str]]:
        """``(url, form, headers)`` of the callback Twilio sends when ``sid`` reaches
        ``status``; the message's status changes here too. Post it with any client."""
        message = self.messages[sid]
        message.status = status
        message.error_code = error_code
        message.history.append(status)
        form = {
            "MessageSid": sid, "SmsSid": sid, "MessageStatus": status, "SmsStatus": status,
            "AccountSid": self.account_sid, "To": message.to, "From": message.from_,
            "ApiVersion": "2010-04-01",
        }
        if error_code is not None:
            form["ErrorCode"] = str(error_code)
        assert message.status_callback, "the message was sent without a StatusCallback"
        headers = {"X-Twilio-Signature": sign(self.auth_token, message.status_callback, form),
                   "Content-Type": "application/x-www-form-urlencoded",
                   "User-Agent": "TwilioProxy/1.1"}
        return message.status_callback, form, headers
