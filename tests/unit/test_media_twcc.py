"""Transport feedback (draft-holmer-rmcat-transport-wide-cc-extensions-01): codec and recorder."""

from __future__ import annotations

import pytest

from media.twcc import (
    MAX_JUMP,
    MAX_KEPT,
    MAX_STATUSES,
    URI,
    ArrivalRecorder,
    build_feedback,
    offered_extension_id,
    parse_feedback,
    with_transport_cc,
)

# Built by hand from the draft (section 3.1): sender SSRC 1, media SSRC 2,
# base sequence 100, 4 statuses, reference time 1 (64 ms), feedback count 0;
# 100 received 1 ms after the reference time (small delta 4), 101 lost,
# 102 received 2 ms later (small delta 8), 103 received 0.5 ms before 102
# (large delta -2). One two-bit status vector chunk: 11 01 00 01 10 00 00 00.
# 26 bytes, padded to 28 with the P bit set and the padding count last.
SPEC_EXAMPLE = bytes.fromhex(
    "afcd0006"  # V=2 P=1 FMT=15, PT=205, length 6 words
    "00000001"  # sender SSRC
    "00000002"  # media SSRC
    "00640004"  # base sequence 100, status count 4
    "00000100"  # reference time 1, feedback count 0
    "d180"  # two-bit status vector chunk
    "0408fffe"  # receive deltas: 4, 8, -2
    "0002"  # padding
)


def test_builds_the_example_of_the_draft() -> None:
    packet = build_feedback(1, 2, 100, 0, 1, [1, 0, 1, 2], [4, 8, -2])
    assert packet == SPEC_EXAMPLE


def test_parses_the_example_of_the_draft() -> None:
    feedback = parse_feedback(SPEC_EXAMPLE)
    assert (feedback.sender_ssrc, feedback.media_ssrc) == (1, 2)
    assert (feedback.base_sequence, feedback.feedback_count) == (100, 0)
    assert feedback.reference_time_us == 64000
    assert feedback.arrivals == ((100, 65000), (101, None), (102, 67000), (103, 66500))


def test_recorder_round_trip_with_losses_reordering_and_wrap() -> None:
    recorder = ArrivalRecorder()
    base = 0xFFF0  # the numbering wraps inside this feedback
    arrivals = {}
    t = 5_000_000
    for k in range(40):
        if k in (3, 4, 20):
            continue  # lost
        t += 250 * (k % 5) if k != 30 else 300_000  # one long gap: a 2-byte delta
        arrivals[(base + k) & 0xFFFF] = t
    order = list(arrivals)
    order[10], order[11] = order[11], order[10]  # reordered on the way
    for seq in order:
        recorder.on_packet(seq, arrivals[seq])
    [packet] = recorder.feedback(7, 8)
    feedback = parse_feedback(packet)
    assert feedback.base_sequence == base
    assert len(feedback.arrivals) == 40
    for seq, at in feedback.arrivals:
        expected = arrivals.get(seq)
        if expected is None:
            assert at is None
        else:
            assert at is not None and abs(at - expected) <= 125  # quarter-ms resolution
    # Nothing new: no feedback; the next one starts where this one ended.
    assert recorder.feedback(7, 8) == []
    recorder.on_packet((base + 40) & 0xFFFF, t + 1000)
    [again] = recorder.feedback(7, 8)
    second = parse_feedback(again)
    assert second.base_sequence == (base + 40) & 0xFFFF
    assert second.feedback_count == feedback.feedback_count + 1
    assert [a for _, a in second.arrivals] == [t + 1000]


def test_recorder_uses_run_lengths_for_long_runs_and_ignores_late_packets() -> None:
    recorder = ArrivalRecorder()
    for k in range(100):
        recorder.on_packet(k, 1_000_000 + 1000 * k)
    [packet] = recorder.feedback(1, 2)
    assert len(packet) < 20 + 2 + 100 + 4  # one run-length chunk, one byte per delta
    assert [a is not None for _, a in parse_feedback(packet).arrivals] == [True] * 100
    recorder.on_packet(50, 2_000_000)  # reported already: too late
    assert recorder.feedback(1, 2) == []


def test_trailing_losses_wait_for_the_next_feedback() -> None:
    recorder = ArrivalRecorder()
    recorder.on_packet(10, 1_000_000)
    recorder.on_packet(12, 1_001_000)
    [first] = recorder.feedback(1, 2)
    assert [s for s, _ in parse_feedback(first).arrivals] == [10, 11, 12]
    recorder.on_packet(14, 1_002_000)
    [second] = recorder.feedback(1, 2)
    assert parse_feedback(second).arrivals[0] == (13, None)


def test_a_long_silence_splits_the_feedback() -> None:
    recorder = ArrivalRecorder()
    recorder.on_packet(1, 1_000_000)
    recorder.on_packet(2, 1_000_000 + 20_000_000)  # 20 s: beyond a 16-bit delta
    packets = recorder.feedback(1, 2)
    assert len(packets) == 2
    parsed = [parse_feedback(p) for p in packets]
    assert [f.arrivals[0][0] for f in parsed] == [1, 2]
    assert parsed[1].arrivals[0][1] == pytest.approx(21_000_000, abs=250)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        SPEC_EXAMPLE[:16],
        SPEC_EXAMPLE[:22],  # deltas cut off (length field says more)
        bytes([0x8F, 206]) + SPEC_EXAMPLE[2:],  # a PSFB, not an RTPFB
        SPEC_EXAMPLE[:20] + b"\x60\x05" + SPEC_EXAMPLE[22:],  # reserved run symbol
    ],
)
def test_bad_feedback_is_a_value_error(data: bytes) -> None:
    with pytest.raises(ValueError):
        parse_feedback(data)


OFFER = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
    f"a=extmap:3 {URI}\r\n"
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\n"
    f"a=extmap:3 {URI}\r\n"
)


def test_the_answer_keeps_the_offered_id_and_asks_for_feedback_per_payload_type() -> None:
    assert offered_extension_id(OFFER) == 3
    assert offered_extension_id(OFFER.replace(URI, "urn:other")) is None
    answer = (
        "v=0\r\ns=-\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:1\r\n"
        "m=video 0 UDP/TLS/RTP/SAVPF 96\r\na=mid:2\r\n"
    )
    munged = with_transport_cc(answer, 3)
    sections = munged.split("m=")[1:]
    assert f"a=extmap:3 {URI}" in sections[0] and "a=rtcp-fb:111 transport-cc" in sections[0]
    assert "a=rtcp-fb:96 transport-cc" in sections[1] and "a=rtcp-fb:97 transport-cc" in sections[1]
    assert "transport-cc" not in sections[2] and URI not in sections[2]  # rejected
    assert munged.endswith("\r\n")


def test_arrivals_kept_while_no_feedback_goes_out_are_bounded() -> None:
    recorder = ArrivalRecorder()
    for k in range(50_000):
        recorder.on_packet(k & 0xFFFF, 1_000_000 + 20 * k)
    assert len(recorder) <= MAX_KEPT
    packets = [parse_feedback(p) for p in recorder.feedback(1, 2)]
    assert all(len(f.arrivals) <= MAX_STATUSES for f in packets)
    reported = [s for f in packets for s, _ in f.arrivals]
    assert reported[-1] == 49_999 & 0xFFFF
    assert len(reported) == len(set(reported)) <= MAX_KEPT


def test_a_new_numbering_is_not_a_run_of_losses() -> None:
    recorder = ArrivalRecorder()
    recorder.on_packet(100, 1_000_000)
    recorder.on_packet(100 + MAX_JUMP + 1, 1_001_000)
    [packet] = recorder.feedback(1, 2)
    assert parse_feedback(packet).arrivals == ((100 + MAX_JUMP + 1, 1_001_000),)
