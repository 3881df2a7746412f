"""uvicorn's WebSocket protocol, with a way for the app to write a ready frame to the socket.

A room event goes to every socket of the room on this node. Through ASGI that is, per socket,
a task woken from a queue, a chain of coroutines (Starlette, uvicorn's ``send``), a frame
encoded and written: 70-116 µs of CPU per socket, so 10,000 sockets took over a second
(bench/README.md, Room sockets). A server frame is not masked, and with permessage-deflate off
(``mitalk serve`` turns it off) a text message is the same bytes on every socket: the fan-out
encodes it once (``text_frame``) and writes it to each socket through the ``FrameWriter`` this
protocol puts in the ASGI scope (``scope["extensions"][FRAME_WRITER]``), synchronously.

A server or a test client without this protocol has no such extension: the app then sends
through ASGI as before (``rooms/ws.py``).
"""

from __future__ import annotations

from typing import Literal

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode

FRAME_WRITER = "mitalk.frame_writer"

WriteResult = Literal["sent", "busy", "closed"]


def text_frame(text: str) -> bytes:
    """A complete, unmasked, uncompressed server text frame carrying ``text``."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class FrameWriter:
    """Writes whole frames to one socket's transport, beside the ASGI ``send``.

    Each frame is one ``transport.write``, like each ASGI send, so frames of both never
    interleave; what the app sends through both arrives in the order it was written.
    """

    __slots__ = ("_protocol",)

    def __init__(self, protocol: DirectWebSocketProtocol) -> None:
        self._protocol = protocol

    def write(self, frame: bytes) -> WriteResult:
        """Write ``frame`` now: ``sent``; ``busy`` when the transport's buffer is over its
        high-water mark (the peer reads slowly: nothing written, the caller queues it for
        the ASGI send, which waits); ``closed`` once the socket is closing or gone."""
        protocol = self._protocol
        if protocol.disconnected or protocol.close_sent or protocol.transport.is_closing():
            return "closed"
        if not protocol.writable.is_set():
            return "busy"
        protocol.transport.write(frame)
        return "sent"

    def buffered(self) -> int:
        """Bytes written to the socket but not yet taken by the kernel."""
        return self._protocol.transport.get_write_buffer_size()


class DirectWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's default WebSocket protocol (websockets' sans-I/O) plus a ``FrameWriter`` in
    the scope, when no extension (permessage-deflate) can change a frame per socket."""

    frame_writer: type[FrameWriter] = FrameWriter

    async def run_asgi(self) -> None:
        if not self.config.ws_per_message_deflate:
            self.scope["extensions"][FRAME_WRITER] = self.frame_writer(self)  # type: ignore[assignment]
        await super().run_asgi()
