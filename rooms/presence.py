"""Presence: whether a seat in the room has a live connection.

A seat whose connection drops keeps its place for the resume grace period
(the service decides how long); meanwhile the room says so, so that the chair
does not give the floor to an empty chair, and a holder's speaking time stops
running once it counts as disconnected. The service issues `SetPresence` (a system command) when a
connection drops, when it is judged lost, and when it comes back.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["Presence"]


class Presence(StrEnum):
    CONNECTED = "connected"
    # The connection dropped moments ago; a reload or a network blip comes back.
    RECONNECTING = "reconnecting"
    # Gone for longer (a crashed browser, a dead network): the seat waits for the grace.
    DISCONNECTED = "disconnected"
