"""Checks on SDP from clients before aiortc sees it (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping

from aiortc import sdp

from .errors import BAD_SDP, UNSUPPORTED_CODEC, MediaError

# What the forwarding path can carry, the same on both legs.
FORWARDED_CODECS = {"audio": "audio/opus", "video": "video/VP8"}
MAX_PUBLISHED_SECTIONS = 4
# Opus in-band FEC (RFC 7587), in the server's answers to publishers and its
# offers to subscribers: a browser's encoder adds FEC only when the answer it
# gets asks for it, and the forwarded payload carries it to every listener,
# whose decoder rebuilds a lost 20 ms frame from the next packet.
OPUS_FEC = {"useinbandfec": "1"}
RED = "audio/red"  # RFC 2198 redundant audio around Opus (Chromium's red/48000/2)


def check_publish_offer(text: str) -> sdp.SessionDescription:
    """Parse a publisher offer and reject what the SFU cannot forward.

    Raises :class:`MediaError` with ``bad_sdp`` or ``unsupported_codec``.
    """
    try:
        description = sdp.SessionDescription.parse(text)
    except Exception as exc:  # aiortc's parser raises whatever the input triggers
        raise MediaError(BAD_SDP, f"the offer is not valid SDP: {exc}") from None
    if not description.media:
        raise MediaError(BAD_SDP, "the offer has no media section")
    if len(description.media) > MAX_PUBLISHED_SECTIONS:
        raise MediaError(
            BAD_SDP,
            f"the offer has {len(description.media)} media sections, at most "
            f"{MAX_PUBLISHED_SECTIONS} are accepted",
        )
    mids = {media.rtp.muxId for media in description.media}
    for group in description.group:
        missing = [mid for mid in group.items if str(mid) not in mids]
        if missing:
            raise MediaError(
                BAD_SDP, f"the {group.semantic} group names missing sections {missing}"
            )
    for media in description.media:
        where = f"m={media.kind} (mid {media.rtp.muxId})"
        if media.direction not in _DIRECTIONS:
            raise MediaError(BAD_SDP, f"{where}: no valid direction attribute")
        if media.kind not in FORWARDED_CODECS:
            raise MediaError(BAD_SDP, f"{where}: only audio and video can be published")
        if not media.rtp.muxId:
            raise MediaError(BAD_SDP, f"{where}: every media section needs a mid")
        if media.ice is None or not media.ice.usernameFragment or not media.ice.password:
            raise MediaError(BAD_SDP, f"{where}: ICE credentials are missing")
        if media.dtls is None or not media.dtls.fingerprints:
            raise MediaError(BAD_SDP, f"{where}: the DTLS fingerprint is missing")
        if not media.rtcp_mux:
            raise MediaError(BAD_SDP, f"{where}: RTCP multiplexing (rtcp-mux) is required")
        if media.direction in ("recvonly", "inactive") or media.port == 0:
            continue
        wanted = FORWARDED_CODECS[media.kind]
        if not any(c.mimeType.lower() == wanted.lower() for c in media.rtp.codecs):
            offered = ", ".join(sorted({c.mimeType for c in media.rtp.codecs})) or "none"
            raise MediaError(
                UNSUPPORTED_CODEC,
                f"{where}: the server forwards {wanted} only (offered: {offered})",
            )
        for codec in media.rtp.codecs:
            expected = _CLOCKS.get(codec.mimeType.lower())
            if expected is not None and (codec.clockRate, codec.channels) != expected:
                raise MediaError(
                    UNSUPPORTED_CODEC,
                    f"{where}: {codec.mimeType}/{codec.clockRate}/{codec.channels} is not "
                    f"{codec.mimeType}/{expected[0]}" + (f"/{expected[1]}" if expected[1] else ""),
                )
    return description


def offers_red(media: sdp.MediaDescription) -> bool:
    """Whether an audio section offers RED around its Opus, as Chromium does.

    The fmtp of ``red/48000/2`` must name the Opus payload type for each
    block (``111/111``): libwebrtc sends RED only with it, and a peer that
    offers RED without it (aiortc, which has no RED encoder) is answered with
    Opus alone.
    """
    opus = {c.payloadType for c in media.rtp.codecs if c.mimeType.lower() == "audio/opus"}
    for codec in media.rtp.codecs:
        if codec.mimeType.lower() != RED or (codec.clockRate, codec.channels) != (48000, 2):
            continue
        for key in codec.parameters:
            types = key.split("/")
            if len(types) >= 2 and len(set(types)) == 1 and types[0].isdigit():
                return int(types[0]) in opus
    return False


def with_red_parameters(text: str) -> str:
    """The SDP with ``a=fmtp:<red> <opus>/<opus>`` for RED in every audio section.

    aiortc writes no fmtp for RED; a browser needs it to send RED (the
    primary and one redundant block, both Opus).
    """
    lines = text.split("\r\n")
    out: list[str] = []
    section: list[str] = []

    def flush() -> None:
        red = opus = None
        for line in section:
            if m := _RED_RTPMAP.match(line):
                red = m.group(1)
            elif m := _OPUS_RTPMAP.match(line):
                opus = opus or m.group(1)
        if red is None or opus is None:
            out.extend(section)
            return
        fmtp = f"a=fmtp:{red} {opus}/{opus}"
        kept = [line for line in section if not line.startswith(f"a=fmtp:{red} ")]
        for line in kept:
            out.append(line)
            if line.startswith(f"a=rtpmap:{red} "):
                out.append(fmtp)

    for line in lines:
        if line.startswith("m="):
            flush()
            section = []
        section.append(line)
    flush()
    return "\r\n".join(out)


def with_opus_parameters(text: str, parameters: Mapping[str, str]) -> str:
    """The SDP with ``parameters`` set on the fmtp of every Opus payload type.

    In an answer these are the receiver's wishes (RFC 7587): a browser sizes
    its encoder to them (``maxplaybackrate``, ``stereo``, ``maxaveragebitrate``).
    """
    if not parameters:
        return text
    lines = text.split("\r\n")
    opus = {m.group(1) for line in lines if (m := _OPUS_RTPMAP.match(line))}
    out: list[str] = []
    done: set[str] = set()
    for line in lines:
        fmtp = _FMTP.match(line)
        if fmtp and fmtp.group(1) in opus:
            merged = dict(_pairs(fmtp.group(2)))
            merged.update(parameters)
            line = f"a=fmtp:{fmtp.group(1)} " + ";".join(f"{k}={v}" for k, v in merged.items())
            done.add(fmtp.group(1))
        out.append(line)
        rtpmap = _OPUS_RTPMAP.match(line)
        if rtpmap and rtpmap.group(1) not in done and not _has_fmtp(lines, rtpmap.group(1)):
            out.append(
                f"a=fmtp:{rtpmap.group(1)} " + ";".join(f"{k}={v}" for k, v in parameters.items())
            )
            done.add(rtpmap.group(1))
    return "\r\n".join(out)


_OPUS_RTPMAP = re.compile(r"a=rtpmap:(\d+) opus/48000", re.IGNORECASE)
_RED_RTPMAP = re.compile(r"a=rtpmap:(\d+) red/48000/2", re.IGNORECASE)
_FMTP = re.compile(r"a=fmtp:(\d+) (.*)")


def _has_fmtp(lines: list[str], payload_type: str) -> bool:
    return any(line.startswith(f"a=fmtp:{payload_type} ") for line in lines)


def _pairs(text: str) -> list[tuple[str, str]]:
    pairs = []
    for item in text.split(";"):
        key, _, value = item.strip().partition("=")
        if key:
            pairs.append((key, value))
    return pairs


_DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})
# Clock rate and channels of the forwarded codecs (RFC 7587: Opus is always 48000/2).
_CLOCKS = {"audio/opus": (48000, 2), "video/vp8": (90000, None)}
