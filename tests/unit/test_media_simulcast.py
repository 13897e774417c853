"""Simulcast offers read and answered (media/simulcast.py): layers, or one layer and why."""

from __future__ import annotations

import pytest

from media.simulcast import (
    REPAIRED_RID_URI,
    RID_URI,
    START_BITRATE_KBPS,
    answer,
    find_rid,
    read_offer,
)

VIDEO = (
    "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=rtpmap:111 opus/48000/2\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96\r\na=mid:1\r\na=rtpmap:96 VP8/90000\r\n"
)


def offer(*lines: str) -> str:
    return VIDEO + "".join(f"{line}\r\n" for line in lines)


BROWSER = (
    f"a=extmap:10 {RID_URI}",
    f"a=extmap:11 {REPAIRED_RID_URI}",
    "a=rid:f send",
    "a=rid:h send",
    "a=rid:q send",
    "a=simulcast:send f;h;q",
)


def test_a_browser_offer_gives_three_layers_lowest_first() -> None:
    [section] = read_offer(offer(*BROWSER)).values()
    assert section.mid == "1" and section.layered and section.degraded is None
    assert section.rids == ("q", "h", "f")
    assert (section.rid_id, section.repaired_rid_id) == (10, 11)


def test_other_rids_are_taken_in_the_offer_order() -> None:
    lines = (f"a=extmap:4 {RID_URI}", "a=rid:lo send", "a=rid:hi send", "a=simulcast:send lo;hi")
    [section] = read_offer(offer(*lines)).values()
    assert section.rids == ("lo", "hi") and section.repaired_rid_id is None


def test_the_answer_receives_the_layers_with_the_offered_extension_ids() -> None:
    sections = read_offer(offer(*BROWSER))
    server_answer = VIDEO.replace("a=mid:1\r\n", "a=mid:1\r\na=sendonly\r\n") + "\r\n"
    text = answer(server_answer, sections)
    video = text.split("m=video")[1]
    for line in (
        f"a=extmap:10 {RID_URI}",
        f"a=extmap:11 {REPAIRED_RID_URI}",
        "a=rid:q recv",
        "a=rid:h recv",
        "a=rid:f recv",
        "a=simulcast:recv q;h;f",
        f"a=fmtp:96 x-google-start-bitrate={START_BITRATE_KBPS}",
    ):
        assert line + "\r\n" in video
    assert "a=rid" not in text.split("m=video")[0]  # the audio section is untouched
    assert text.endswith("\r\n")


@pytest.mark.parametrize(
    ("lines", "reason"),
    [
        # More encodings than the SFU forwards.
        (
            (
                f"a=extmap:10 {RID_URI}",
                *(f"a=rid:{r} send" for r in "abcd"),
                "a=simulcast:send a;b;c;d",
            ),
            "4 encodings",
        ),
        # No RID header extension: the layers could not be told apart.
        (("a=rid:q send", "a=rid:f send", "a=simulcast:send q;f"), "no RID header extension"),
        # A rid in a=simulcast that no a=rid declares.
        ((f"a=extmap:10 {RID_URI}", "a=rid:q send", "a=simulcast:send q;x"), "undeclared"),
        # A rid that is not a token.
        (
            (f"a=extmap:10 {RID_URI}", "a=rid:q/1 send", "a=rid:f send", "a=simulcast:send q/1;f"),
            "invalid",
        ),
        (
            (f"a=extmap:10 {RID_URI}", "a=rid:q send", "a=rid:f send", "a=simulcast:send q,f"),
            "alternatives",
        ),
        (
            (f"a=extmap:10 {RID_URI}", "a=rid:q send", "a=rid:f send", "a=simulcast:recv q;f"),
            "does not send",
        ),
        (
            (f"a=extmap:10 {RID_URI}", "a=rid:q send", "a=rid:q send", "a=simulcast:send q;q"),
            "twice",
        ),
        (
            (f"a=extmap:99 {RID_URI}", "a=rid:q send", "a=rid:f send", "a=simulcast:send q;f"),
            "no RID",
        ),
        (("a=rid:q send",), "without a=simulcast"),
    ],
)
def test_offers_the_sfu_cannot_layer_are_answered_as_one_layer(
    lines: tuple[str, ...], reason: str
) -> None:
    sections = read_offer(offer(*lines))
    [section] = sections.values()
    assert not section.layered
    assert section.degraded is not None and reason in section.degraded
    plain = VIDEO + "\r\n"
    assert answer(plain, sections) == plain


def test_sections_without_simulcast_are_not_listed() -> None:
    assert read_offer(VIDEO) == {}
    assert read_offer("") == {}


def packet_with(elements: bytes) -> bytes:
    words = (len(elements) + 3) // 4
    elements += b"\x00" * (words * 4 - len(elements))
    return (
        b"\x90\x60\x00\x01"
        + b"\x00" * 8
        + b"\xbe\xde"
        + words.to_bytes(2, "big")
        + elements
        + b"payload"
    )


def test_the_rid_is_read_from_the_one_byte_extension() -> None:
    assert find_rid(packet_with(b"\x10" + b"1" + b"\xa0q"), 10) == "q"
    assert find_rid(packet_with(b"\xa2abc"), 10) == "abc"
    assert find_rid(packet_with(b"\xa0q"), 11) is None
    assert find_rid(packet_with(b"\xa1\xff\xfe"), 10) is None  # not ASCII
    assert find_rid(packet_with(b"\xa0/"), 10) is None  # not a rid
    assert find_rid(b"\x80\x60" + b"\x00" * 10 + b"payload", 10) is None  # no extension
    assert find_rid(packet_with(b"\xaf")[:17], 10) is None  # truncated


def test_an_existing_vp8_fmtp_gets_the_start_bitrate_appended() -> None:
    sections = read_offer(offer(*BROWSER))
    server_answer = VIDEO + "a=fmtp:96 max-fr=30\r\na=fmtp:97 apt=96\r\n"
    text = answer(server_answer, sections)
    assert f"a=fmtp:96 max-fr=30;x-google-start-bitrate={START_BITRATE_KBPS}\r\n" in text
    assert "a=fmtp:97 apt=96\r\n" in text
    assert text.count("x-google-start-bitrate") == 1
