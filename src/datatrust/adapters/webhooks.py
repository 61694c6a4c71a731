"""The webhook transport: plain ``http.client`` POSTs, no redirects, an overall timeout,
and optionally pinned to an address checked beforehand (see ``services.webhooks``)."""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from urllib.parse import urlsplit

from datatrust.services.ports import WebhookReply

# At most this much of a reply is read: the answer's status is what counts.
MAX_REPLY_BYTES = 4096


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int | None, connect_to: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._connect_to = connect_to

    def connect(self) -> None:
        self.sock = socket.create_connection((self._connect_to, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int | None, connect_to: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._connect_to = connect_to

    def connect(self) -> None:
        raw = socket.create_connection((self._connect_to, self.port), self.timeout)
        # The certificate is checked against the URL's host name, not the address.
        self.sock = self._context.wrap_socket(raw, server_hostname=self.host)  # type: ignore[attr-defined]


class HttpWebhookTransport:
    """The real transport (also in tests, against a receiver on 127.0.0.1)."""

    def addresses(self, host: str, port: int) -> list[str]:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return list(dict.fromkeys(str(info[4][0]) for info in found))

    def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        *,
        timeout: float,
        connect_to: str | None = None,
    ) -> WebhookReply:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        address = connect_to or host
        connection: http.client.HTTPConnection
        if parts.scheme == "https":
            connection = _PinnedHTTPSConnection(host, port, address, timeout)
        else:
            connection = _PinnedHTTPConnection(host, port, address, timeout)
        started = time.monotonic()
        try:
            connection.request("POST", target, body=body, headers=headers)
            reply = connection.getresponse()
            reply.read(MAX_REPLY_BYTES)
            return WebhookReply(reply.status, None, _ms(started))
        except TimeoutError:
            return WebhookReply(None, f"no answer within {timeout:g} s", _ms(started))
        except (OSError, http.client.HTTPException) as exc:
            return WebhookReply(None, f"{type(exc).__name__}: {exc}"[:300], _ms(started))
        finally:
            connection.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
