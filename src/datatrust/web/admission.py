"""A first-come, first-served admission limit in front of the application.

At most ``limit`` requests are worked on at once in one web process; the others wait their
turn in the order they arrived, and one that waits longer than ``wait_seconds`` is answered
503 with ``Retry-After`` (the service is busy) instead of hanging. Without it, every request
that arrives starts at once: hundreds of them share the web threads, the GIL and the
database's write lock, and which one gets them next is luck, not arrival order. A request
that has to hop into the thread pool three times queues behind every other request three
times, so the slowest answers took several times the average (issue 12: stalls over 10 s at
256 clients with a median of a few seconds).

What holds a slot is work that decides an answer. Waiting on the network does not:

- a body's first ``PREREAD_BYTES`` (all of a short one: a form, a JSON document) are read
  before the request queues, so a slow client never holds a slot while its few bytes
  arrive; a body declared longer is not read ahead at all;
- the rest of a longer body (a tus PATCH, a multipart upload) is read after admission, and
  the slot is handed back while the next piece is awaited and taken again (ahead of new
  arrivals) when it has come;
- the slot is handed back as the answer starts: a download streaming its body out holds
  none while the client reads it.

``/health`` (a load balancer's probe must not wait behind the queue) and the static files
are not counted. A client that goes away while its request waits is dropped from the queue
without running it.

In the service it is the outermost layer, in front of the body limits too: what it reads
ahead is then limited by the route that takes the request, as if it had not been read
ahead. A request it turns away goes on inside marked ``TURNED_AWAY``, and ``TurnAway``,
the innermost middleware, answers the 503: the refusal gets its request id, its log line
and the security headers like any other answer.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from datatrust.web.errors import unavailable_response

# A body up to this size is read before its request waits for a turn.
PREREAD_BYTES = 64 * 1024
# Scope key of a request the limit turned away, for ``TurnAway`` to answer.
TURNED_AWAY = "datatrust.turned_away"
# Paths not counted: the health probe and files served as they are.
EXEMPT_PATHS = ("/health",)
EXEMPT_PREFIXES = ("/static/", "/swagger-ui/")


class Slots:
    """At most ``limit`` holders at once; the others wait in arrival order. A holder that
    handed its slot back while it waited on the network takes the next one ahead of new
    arrivals (``first=True``): it was admitted already."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0
        self._waiting: deque[asyncio.Future[None]] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)  # a turn leaves the line when it is given or withdrawn

    async def take(
        self,
        *,
        first: bool = False,
        timeout: float | None = None,
        gone: asyncio.Future[Message] | None = None,
    ) -> bool:
        """Wait for a slot: True once held; False when ``timeout`` passed or ``gone``
        finished first (the client went away), and then no slot is held."""
        if self.in_use < self.limit and not self._waiting:
            self.in_use += 1
            return True
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if first:
            self._waiting.appendleft(turn)
        else:
            self._waiting.append(turn)
        try:
            waits: set[asyncio.Future[object]] = {turn}  # type: ignore[arg-type]
            if gone is not None:
                waits.add(gone)  # type: ignore[arg-type]
            await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        except BaseException:
            self._withdraw(turn)
            raise
        if turn.done() and not turn.cancelled():
            return True
        self._withdraw(turn)
        return False

    def give(self) -> None:
        """Hand a slot back: straight to the next in line, if anyone waits."""
        while self._waiting:
            turn = self._waiting.popleft()
            if not turn.done():
                turn.set_result(None)  # the slot passes on; in_use stays the same
                return
        self.in_use -= 1

    def _withdraw(self, turn: asyncio.Future[None]) -> None:
        if turn.done() and not turn.cancelled():
            self.give()  # handed a slot as it stopped waiting: pass it on
            return
        turn.cancel()
        with contextlib.suppress(ValueError):
            self._waiting.remove(turn)


class AdmissionLimit:
    """ASGI middleware: the admission limit above. ``limit`` 0 turns it off. With
    ``answer_inside`` a request turned away is passed on marked ``TURNED_AWAY`` (for
    ``TurnAway`` to answer); without, this answers it."""

    def __init__(
        self, app: ASGIApp, *, limit: int, wait_seconds: float, answer_inside: bool = False
    ) -> None:
        self.app = app
        self.slots = Slots(limit) if limit > 0 else None
        self.wait_seconds = wait_seconds
        self.answer_inside = answer_inside

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.slots is None or _exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        turn = _Turn(self.slots, receive, send)
        if _short_or_unknown_body(scope) and not await turn.read_ahead():
            return  # the client went away before its turn
        if not await turn.begin(self.wait_seconds):
            if turn.gone:
                return
            if self.answer_inside:
                scope[TURNED_AWAY] = True
                await self.app(scope, turn.receive, send)
            else:
                await unavailable_response()(scope, turn.receive, send)
            return
        try:
            await self.app(scope, turn.receive, turn.send)
        finally:
            turn.end()


class TurnAway:
    """Answers a request ``AdmissionLimit`` turned away: 503 with ``Retry-After``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope.get(TURNED_AWAY):
            await unavailable_response()(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Turn:
    """One request's place: its slot, and the body messages read before admission."""

    def __init__(self, slots: Slots, receive: Receive, send: Send) -> None:
        self.slots = slots
        self._receive = receive
        self._send = send
        self.early: deque[Message] = deque()
        self.body_read = False  # every body message has been received
        self.holding = False
        self.answered = False  # the response has started (or the app returned)
        self.gone = False

    async def read_ahead(self) -> bool:
        """Receive the body now, up to ``PREREAD_BYTES``; False if the client went away."""
        size = 0
        while not self.body_read and size <= PREREAD_BYTES:
            message = await self._receive()
            self.early.append(message)
            self._note(message)
            size += len(message.get("body", b""))
        return not self.gone

    async def begin(self, wait_seconds: float) -> bool:
        watch: asyncio.Future[Message] | None = None
        if self.body_read and (self.slots.waiting or self.slots.in_use >= self.slots.limit):
            # Only a disconnect can come now: watch for it while waiting.
            watch = asyncio.ensure_future(_call(self._receive))
        try:
            self.holding = await self.slots.take(timeout=wait_seconds, gone=watch)
        finally:
            if watch is not None:
                if watch.done() and not watch.cancelled():
                    self.early.append(watch.result())
                    self._note(watch.result())
                else:
                    watch.cancel()
        return self.holding

    async def receive(self) -> Message:
        if self.early:
            return self.early.popleft()
        if self.body_read or not self.holding:
            return await self._receive()
        # More of the body is on its way: wait for it without holding a slot.
        self._give()
        message = await self._receive()
        self._note(message)
        if not self.answered and not self.gone:
            self.holding = await self.slots.take(first=True)
        return message

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.answered = True
            self._give()  # what is left is sending: no slot while the client reads
        await self._send(message)

    def end(self) -> None:
        self.answered = True
        self._give()

    def _give(self) -> None:
        if self.holding:
            self.holding = False
            self.slots.give()

    def _note(self, message: Message) -> None:
        if message["type"] == "http.disconnect":
            self.gone = self.body_read = True
        elif not message.get("more_body", False):
            self.body_read = True


async def _call(receive: Callable[[], Awaitable[Message]]) -> Message:
    return await receive()


def _exempt(path: str) -> bool:
    return path in EXEMPT_PATHS or path.startswith(EXEMPT_PREFIXES)


def _short_or_unknown_body(scope: Scope) -> bool:
    """Whether to read ahead: no body, a short one, or one of undeclared length (chunked)."""
    for name, value in scope.get("headers") or ():
        if name == b"content-length":
            try:
                return int(value) <= PREREAD_BYTES
            except ValueError:
                return False
    return True
