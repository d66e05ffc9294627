"""Inbound calls from Twilio: delivery reports (``StatusCallback``) and replies (STOP/START).

Both are form POSTs signed with ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the Auth
Token, of the full URL Twilio called followed by each POST parameter name in sorted order with
its value(s) sorted. The check is done in constant time; an unsigned or mis-signed request is
refused with 403 and changes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import urlsplit, urlunsplit

from flask import Blueprint, Response, request

from plugin_sdk.web import current_context
from plugins.sms import service
from plugins.sms.providers import twilio_status

bp = Blueprint("sms_webhook", __name__)


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str | list[str]]) -> str:
    payload = url
    for name in sorted(params):
        values = params[name]
        for value in sorted(set(values if isinstance(values, list) else [values])):
            payload += name + value
    digest = hmac.new(auth_token.encode(), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """Twilio signs the URL as it called it; behind some proxies the default port shows up or
    disappears, so both forms are tried (as Twilio's own validator does)."""
    parts = urlsplit(url)
    default = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    with_port = f"{host}:{parts.port or default}" if default else parts.netloc
    variants = [url, urlunsplit(parts._replace(netloc=host)),
                urlunsplit(parts._replace(netloc=with_port))]
    return list(dict.fromkeys(variants))


def valid_twilio_signature(auth_token: str, url: str, params: Mapping[str, str | list[str]],
                           signature: str) -> bool:
    if not auth_token or not signature:
        return False
    return any(hmac.compare_digest(twilio_signature(auth_token, candidate, params), signature)
               for candidate in _url_variants(url))


def _signed_form() -> dict[str, str | list[str]] | None:
    ctx = current_context()
    params: dict[str, str | list[str]] = {
        k: (v[0] if len(v) == 1 else v) for k, v in request.form.lists()}
    public = ctx.settings.get("public_url")
    url = request.url
    if public:  # behind a proxy, the address Twilio called is the public one
        url = public.rstrip("/") + request.full_path.rstrip("?") if request.query_string \
            else public.rstrip("/") + request.path
    token = ctx.settings.get("twilio_auth_token") or ""
    if ctx.settings.get("provider") != "twilio" or not valid_twilio_signature(
            token, url, params, request.headers.get("X-Twilio-Signature", "")):
        ctx.log.warning("refused an unsigned or mis-signed Twilio request to %s", request.path)
        return None
    return params


@bp.post("/twilio/status")
def twilio_status_callback() -> Response:
    params = _signed_form()
    if params is None:
        return Response("invalid signature", status=403)
    ctx = current_context()
    sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
    status = twilio_status(str(params.get("MessageStatus") or params.get("SmsStatus") or ""))
    error_code = str(params.get("ErrorCode") or "")
    service.record_status(ctx, "twilio", sid, status, error_code)
    if error_code == "21610":
        service.opt_out(ctx, str(params.get("To", "")), "twilio:21610")
    ctx.session.commit()
    return Response("", status=204)


@bp.post("/twilio/inbound")
def twilio_inbound() -> Response:
    """A shopper replied: STOP (and its synonyms) opts the number out, START opts it back in.
    Twilio answers the shopper itself; we only keep our list in step."""
    params = _signed_form()
    if params is None:
        return Response("invalid signature", status=403)
    ctx = current_context()
    word = str(params.get("Body", "")).strip().upper()
    sender = str(params.get("From", ""))
    if sender.startswith("+") and word in service.STOP_WORDS:
        service.opt_out(ctx, sender, "reply:STOP")
    elif sender.startswith("+") and word in service.START_WORDS:
        service.opt_in(ctx, sender)
    ctx.session.commit()
    return Response('<?xml version="1.0" encoding="UTF-8"?><Response></Response>',
                    content_type="text/xml")
