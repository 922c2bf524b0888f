"""The pipeline's second step: bodies above MAX_BODY_BYTES are refused with 413 problem+json."""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.common.asgi import declares_body
from app.errors import PayloadTooLarge, render


class BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    """Refuse bodies above `max_bytes` with a 413 problem, announced by Content-Length or not.

    (FastAPI's own `max_body_size` answers a declared oversize body in plain text.)
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not declares_body(scope):
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            if not too_large:  # the app's own answer to the aborted read is replaced
                await send(message)

        with contextlib.suppress(BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if too_large:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = f"The body is larger than {self.max_bytes} bytes."
        await render(PayloadTooLarge(detail))(scope, receive, send)
