import pytest
from aiortc import sdp

from media.errors import MediaError
from media.sdp import (
    OPUS_FEC,
    check_publish_offer,
    offers_red,
    with_opus_parameters,
    with_red_parameters,
)

MEDIA = """m={kind} 9 UDP/TLS/RTP/SAVPF {pts}
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 {fp}
a=setup:actpass
a=mid:{mid}
a=sendonly
{mux}{rtpmaps}
"""
FP = ":".join(["AB"] * 32)
HEAD = "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"


def offer(*sections: str) -> str:
    return (HEAD + "".join(sections)).replace("\n", "\r\n").replace("\r\r", "\r")


def section(kind: str, codecs: dict[int, str], mid: str = "0", mux: bool = True) -> str:
    rtpmaps = "\n".join(f"a=rtpmap:{pt} {name}" for pt, name in codecs.items())
    return MEDIA.format(
        kind=kind,
        pts=" ".join(map(str, codecs)),
        fp=FP,
        mid=mid,
        mux="a=rtcp-mux\n" if mux else "",
        rtpmaps=rtpmaps,
    )


def test_vp8_and_opus_are_accepted() -> None:
    description = check_publish_offer(
        offer(
            section("audio", {111: "opus/48000/2"}, "0"), section("video", {96: "VP8/90000"}, "1")
        )
    )
    assert [m.kind for m in description.media] == ["audio", "video"]


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "bad_sdp"),
        (HEAD, "bad_sdp"),
        (offer(section("video", {102: "H264/90000"})), "unsupported_codec"),
        (offer(section("audio", {0: "PCMU/8000"})), "unsupported_codec"),
        (offer(section("video", {96: "VP8/90000"}, mux=False)), "bad_sdp"),
        (offer(*(section("audio", {111: "opus/48000/2"}, str(i)) for i in range(5))), "bad_sdp"),
        (offer(section("application", {5000: "webrtc-datachannel"})), "bad_sdp"),
    ],
)
def test_rejections(text: str, code: str) -> None:
    with pytest.raises(MediaError) as error:
        check_publish_offer(text)
    assert error.value.code == code


def test_opus_parameters_are_merged_into_the_fmtp_or_added() -> None:
    text = "\r\n".join(
        [
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
            "a=rtpmap:111 opus/48000/2",
            "a=fmtp:111 minptime=10;useinbandfec=0",
            "a=rtpmap:63 red/48000/2",
            "a=fmtp:63 111/111",
            "m=audio 9 UDP/TLS/RTP/SAVPF 96",
            "a=rtpmap:96 opus/48000/2",
            "",
        ]
    )
    lines = with_opus_parameters(text, OPUS_FEC).split("\r\n")
    assert "a=fmtp:111 minptime=10;useinbandfec=1" in lines
    assert "a=fmtp:63 111/111" in lines  # not Opus: untouched
    assert lines[lines.index("a=rtpmap:96 opus/48000/2") + 1] == "a=fmtp:96 useinbandfec=1"


CHROMIUM_AUDIO = [
    "v=0",
    "o=- 1 2 IN IP4 127.0.0.1",
    "s=-",
    "t=0 0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
    "c=IN IP4 0.0.0.0",
    "a=mid:0",
    "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1",
    "a=rtpmap:63 red/48000/2",
]


@pytest.mark.parametrize(
    ("fmtp", "expected"),
    [
        ("a=fmtp:63 111/111", True),
        ("a=fmtp:63 111/111/111", True),
        (None, False),  # aiortc writes none: it has no RED encoder
        ("a=fmtp:63 96/96", False),  # not this section's Opus
        ("a=fmtp:63 111/0", False),
        ("a=fmtp:63 111", False),
    ],
)
def test_red_counts_as_offered_only_around_the_sections_opus(
    fmtp: str | None, expected: bool
) -> None:
    lines = CHROMIUM_AUDIO + ([fmtp] if fmtp else [])
    description = sdp.SessionDescription.parse("\r\n".join([*lines, ""]))
    assert offers_red(description.media[0]) is expected


def test_red_gets_the_fmtp_naming_each_sections_opus() -> None:
    text = "\r\n".join(
        [
            "v=0",
            "m=audio 9 UDP/TLS/RTP/SAVPF 63 96",
            "a=rtpmap:63 red/48000/2",
            "a=rtpmap:96 opus/48000/2",
            "m=audio 9 UDP/TLS/RTP/SAVPF 111 63",
            "a=rtpmap:111 opus/48000/2",
            "a=rtpmap:63 red/48000/2",
            "a=fmtp:63 1/1",
            "m=video 9 UDP/TLS/RTP/SAVPF 97",
            "a=rtpmap:97 VP8/90000",
            "",
        ]
    )
    lines = with_red_parameters(text).split("\r\n")
    assert lines[lines.index("a=rtpmap:63 red/48000/2") + 1] == "a=fmtp:63 96/96"
    assert "a=fmtp:63 111/111" in lines and "a=fmtp:63 1/1" not in lines
    assert lines[-2:] == ["a=rtpmap:97 VP8/90000", ""]  # video untouched
