"""``mitalk bot speak|listen``: headless participants, through the Mi Talk API only (API.md).

The bots' modules (aiortc, numpy) are imported inside the commands that use them: every
``mitalk`` command loads this module, and those imports would slow each one's start.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Annotated

import typer

bot_app = typer.Typer(
    help="Headless participants: speak a WAV file into a room, or record what a room sounds like.",
    no_args_is_help=True,
)

Server = Annotated[str, typer.Option(help="The Mi Talk server, e.g. http://127.0.0.1:8000.")]
Token = Annotated[str, typer.Option(help="The account's bearer token.")]
RoomId = Annotated[str, typer.Option("--room", help="The room's id.")]
Relay = Annotated[
    bool,
    typer.Option(
        "--relay",
        help="Allow only TURN relay candidates (iceTransportPolicy relay): audio goes through "
        "the server's TURN or not at all.",
    ),
]
Turn = Annotated[
    str | None,
    typer.Option(
        "--turn",
        help="Which of the server's TURN URLs to use: udp, tcp or tls (the bot's WebRTC "
        "stack uses one; default: the first the server lists).",
    ),
]
TURN_CHOICES = ("udp", "tcp", "tls")


def _turn_option(turn: str | None) -> None:
    if turn is not None and turn not in TURN_CHOICES:
        _fail(f"--turn must be one of {', '.join(TURN_CHOICES)}")


def _report_path(bot: object) -> None:
    from mitalk.media.roombot import RoomBot

    assert isinstance(bot, RoomBot)
    pair = bot.selected_pair()
    typer.echo(f"audio path: {pair}" if pair else "audio path: not connected", err=True)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(1)


async def _stay(bot: object, seconds: float) -> None:
    from mitalk.media.roombot import RoomBot

    assert isinstance(bot, RoomBot)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(bot.gone.wait(), seconds)
    if bot.gone_reason is not None:
        typer.echo(f"stopped early: {bot.gone_reason}", err=True)


@bot_app.command("speak")
def speak(
    server: Server,
    token: Token,
    room: RoomId,
    wav: Annotated[Path, typer.Option(exists=True, dir_okay=False, help="16-bit PCM WAV file.")],
    seconds: Annotated[
        float | None,
        typer.Option(
            min=0.1, help="How long to stay and send (looping); default: the file's length."
        ),
    ] = None,
    relay: Relay = False,
    turn: Turn = None,
) -> None:
    """Join ROOM and send the WAV file's audio (looping if shorter) as that account, then leave.

    A listener raises its hand and speaks once a moderator brings it on stage.
    """
    from mitalk.media.audio import read_wav
    from mitalk.media.bots import PcmSourceTrack
    from mitalk.media.roombot import BotError, RoomBot

    _turn_option(turn)
    try:
        samples, rate = read_wav(wav)
    except (OSError, ValueError, EOFError) as exc:
        _fail(f"cannot read {wav}: {exc}")
        return
    if len(samples) == 0:
        _fail(f"{wav} holds no audio")
    duration = seconds if seconds is not None else len(samples) / rate

    async def main() -> None:
        bot = RoomBot(
            server,
            token,
            room,
            source=lambda: PcmSourceTrack(samples, rate),
            unmute_on_stage=True,
            raise_hand=True,
            relay=relay,
            turn=turn,  # type: ignore[arg-type]  # checked by _turn_option
        )
        try:
            await bot.start()
            await _stay(bot, duration)
            _report_path(bot)
        finally:
            await bot.close()

    try:
        asyncio.run(main())
    except BotError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot reach {server}: {exc}")


@bot_app.command("listen")
def listen(
    server: Server,
    token: Token,
    room: RoomId,
    seconds: Annotated[float, typer.Option(min=0.1, help="How long to record.")],
    out: Annotated[Path, typer.Option(dir_okay=False, help="Where to write the WAV file.")],
    relay: Relay = False,
    turn: Turn = None,
) -> None:
    """Join ROOM and record what that account hears as a WAV file, then leave."""
    from mitalk.media.roombot import BotError, RoomBot

    _turn_option(turn)

    async def main() -> float:
        bot = RoomBot(server, token, room, relay=relay, turn=turn)  # type: ignore[arg-type]
        try:
            await bot.start()
            await _stay(bot, seconds)
            _report_path(bot)
        finally:
            await bot.close()
        bot.timeline.save(out)
        return len(bot.timeline.samples()) / 48000

    try:
        recorded = asyncio.run(main())
    except BotError as exc:
        _fail(str(exc))
        return
    except OSError as exc:
        _fail(f"cannot reach {server}: {exc}")
        return
    typer.echo(f"recorded {recorded:.1f} s to {out}")
