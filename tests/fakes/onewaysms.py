"""A OneWaySMS gateway on 127.0.0.1, following ``../shared/contracts/README.md``.

Plain HTTP GETs answered in plain text with HTTP 200, even on error:

- ``api.aspx?apiusername=&apipassword=&mobileno=&senderid=&languagetype=&message=`` → a positive
  mtid per number (comma-separated), or -100 bad credentials, -200 bad sender id, -300 bad
  mobile number, -400 bad language type, -500 invalid characters, -600 insufficient credit;
- ``bulktrx.aspx?mtid=`` → 0 received on handset, 100 delivered to telco, -100 mtid not found,
  -200 sending failed;
- ``bulkcredit.aspx?apiusername=&apipassword=`` → the balance, or -100.

Languagetype 2 messages arrive as UCS-2 big-endian hex; the fake decodes them so a test can read
``fake.sent[i].text``. Every request is recorded in ``fake.server.requests``.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from decimal import Decimal

from werkzeug.wrappers import Request, Response

from tests.fakes.local_server import LocalServer

GSM_SEGMENT, GSM_PART = 160, 153
UCS2_SEGMENT, UCS2_PART = 70, 67


@dataclass
class SentSms:
    mtid: int
    mobileno: str
    senderid: str
    languagetype: int
    text: str
    segments: int


def segments(length: int, unicode: bool) -> int:
    single, part = (UCS2_SEGMENT, UCS2_PART) if unicode else (GSM_SEGMENT, GSM_PART)
    if length <= single:
        return 1
    return -(-length // part)


class FakeOneWaySms:
    """State a test sets (``credit``, ``statuses``) and reads (``sent``, ``server.requests``)."""

    def __init__(self, username: str = "kedai", password: str = "p@ss w0rd&=") -> None:
        self.username = username
        self.password = password
        self.credit = Decimal("100.00")
        self.sent: list[SentSms] = []
        #: mtid → status code answered by ``bulktrx.aspx`` (default 100, delivered to telco).
        self.statuses: dict[int, int] = {}
        self._mtids = itertools.count(74_810_001)
        self.server = LocalServer(self.handle)

    @property
    def url(self) -> str:
        return self.server.url + "/"

    def start(self) -> FakeOneWaySms:
        self.server.start()
        return self

    def stop(self) -> None:
        self.server.stop()

    @staticmethod
    def text(body: str) -> Response:
        return Response(body, status=200, content_type="text/html; charset=utf-8")

    def handle(self, request: Request) -> Response:
        page = request.path.lower().lstrip("/")
        if request.method != "GET":
            return Response("method not allowed", status=405)
        if page == "api.aspx":
            return self.text(self.send(request.args))
        if page == "bulktrx.aspx":
            mtid = request.args.get("mtid", "")
            if not mtid.isdigit() or int(mtid) not in {s.mtid for s in self.sent}:
                return self.text("-100")
            return self.text(str(self.statuses.get(int(mtid), 100)))
        if page == "bulkcredit.aspx":
            if not self._authenticated(request.args):
                return self.text("-100")
            return self.text(f"{self.credit:.2f}")
        return Response("not found", status=404)

    def _authenticated(self, args: dict[str, str]) -> bool:
        return args.get("apiusername") == self.username and args.get(
            "apipassword") == self.password

    def send(self, args: dict[str, str]) -> str:
        if not self._authenticated(args):
            return "-100"
        sender = args.get("senderid", "")
        if not re.fullmatch(r"[A-Za-z0-9 ]{1,11}", sender):
            return "-200"
        numbers = args.get("mobileno", "").split(",")
        if not 1 <= len(numbers) <= 10 or not all(re.fullmatch(r"[1-9]\d{7,14}", n)
                                                   for n in numbers):
            return "-300"
        language = args.get("languagetype", "")
        if language not in ("1", "2"):
            return "-400"
        message = args.get("message", "")
        if language == "2":
            if not message or len(message) % 4 or not re.fullmatch(r"[0-9A-F]+", message):
                return "-500"
            text = bytes.fromhex(message).decode("utf-16-be")
        else:
            if not message or any(ord(c) > 0xFF for c in message):
                return "-500"
            text = message
        parts = segments(len(text), language == "2")
        cost = Decimal(parts * len(numbers))
        if self.credit < cost:
            return "-600"
        self.credit -= cost
        mtids = []
        for number in numbers:
            mtid = next(self._mtids)
            self.sent.append(SentSms(mtid, number, sender, int(language), text, parts))
            mtids.append(str(mtid))
        return ",".join(mtids)
