"""The Python client of the Palabra protocol (signaling plus two aiortc peer
connections), for tests, the load generator, bots and recorders."""

from signaling import Subscription

from .session import ClientError, PalabraClient, RemoteStream

__all__ = ["ClientError", "PalabraClient", "RemoteStream", "Subscription"]
