"""The live conference: one meeting's I/O shell around its pure room state.

:mod:`conference.live` composes the parts, each a concept of its own: the
event log and its store (:mod:`.event_log`), the media plane (transports,
the floor's gate, video layers within each downlink: :mod:`.media_plane`,
:mod:`.bandwidth`, :mod:`.video_layers`, :mod:`.publish_layers`),
interpretation routing, screen shares, recordings, monitoring and alerts,
seats held for dropped connections, and who may read which message. The
room manager (:mod:`rooms`) decides; these modules carry its decisions out
on :mod:`media` and :mod:`signaling`. ``server/`` composes conferences into
the application (HTTP, WebSocket, workers).
"""
