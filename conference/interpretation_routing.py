"""Interpretation is routing, not mixing: each subscriber's feeds follow the booths.

A booth's interpreter on air feeds its channel's outgoing stream in every
subscriber that hears that channel (one stream across handovers: a switch is
a source change at the next packet). Listeners choose the floor or a channel;
an interpreter hears its relay source and, while passive, its partner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from media.producer import Producer
from media.router import Router
from rooms import FLOOR, ISO_639_1, Conference
from signaling import InterpretationListening, MessageId

from .media_plane import in_room
from .member import JoinRefused, Member

# The two feeds of a subscriber connection: the channel it listens to (a
# listener's choice, an interpreter's relay source) and, for a passive
# interpreter, the partner on air in its own booth.
LISTEN, PARTNER = "listen", "partner"


class InterpretationRouting:
    """Each subscriber's feeds pointed at the interpreters on air it should hear."""

    def __init__(
        self,
        state: Conference,
        router: Router,
        members: dict[str, Member],
        *,
        lock: asyncio.Lock,
        record_channels: Callable[[dict[str, Producer | None]], None],
    ) -> None:
        self.state = state
        self.router = router
        self.members = members
        # Each listener's chosen channel (None: the floor only); interpreters hear their source.
        self.listening: dict[str, str | None] = {}
        self._lock = lock
        # Told the producer on air in each channel after every routing.
        self._record_channels = record_channels

    def apply(self) -> None:
        """Point every subscriber's feeds at the interpreters on air it should hear.

        A listener hears the floor plus its chosen channel; an interpreter its
        relay source (if not the floor) and, while passive, the partner on
        air: never its own channel. A switch is a source change inside one
        outgoing stream, so it takes effect at the next packet.
        """
        interpretation = self.state.interpretation
        on_air = {
            language: next((p for p in self.router.producers_of(pid) if p.kind == "audio"), None)
            for language, pid in interpretation.active_interpreters().items()
        }
        any_channel = bool(interpretation.open_channels())
        for member in in_room(self.members):
            transport = member.transport
            assert transport is not None
            if "audio" not in transport.receives:
                continue  # the feeds are audio
            pid = member.info.id
            if pid in interpretation.seats:
                listen, partner = interpretation.hears(pid)
            else:
                listen, partner = self.listening.get(pid), None
                if listen is not None and not interpretation.is_open(listen):
                    listen = None
            for name, language in ((LISTEN, listen), (PARTNER, partner)):
                if language is None and name not in transport.feeds:
                    if name == LISTEN and any_channel:
                        transport.open_feed(name)  # ready before the first switch
                    continue
                transport.feed(name, on_air.get(language) if language is not None else None)
        self._record_channels(on_air)

    async def listen(self, member: Member, channel: str | None, ref: MessageId | None) -> None:
        """A listener's channel choice (None: the floor only); JoinRefused if refused."""
        async with self._lock:
            pid = member.info.id
            if pid in self.state.interpretation.seats:
                raise JoinRefused(
                    "forbidden", "an interpreter hears its source: use interpretation.set_source"
                )
            if channel is not None:
                if channel == FLOOR:
                    channel = None
                elif channel not in ISO_639_1:
                    raise JoinRefused(
                        "invalid_argument", f"{channel!r} is not an ISO 639-1 language code"
                    )
                elif not self.state.interpretation.is_open(channel):
                    raise JoinRefused("invalid_state", f"the {channel} channel is not open")
            if member.transport is None:
                raise JoinRefused("in_lobby", "waiting in the lobby for the chair to admit you")
            if "audio" not in member.receives:
                raise JoinRefused("invalid_state", "this connection receives no audio (hello)")
            self.listening[pid] = channel
            self.apply()
        await member.connection.send(InterpretationListening(channel, ref=ref))


__all__ = ["LISTEN", "PARTNER", "InterpretationRouting"]
