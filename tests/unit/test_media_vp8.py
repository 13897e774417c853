import pytest

from media.vp8 import is_keyframe_start


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (bytes([0x10, 0x00]), True),  # S=1, PID=0, no extension, P=0
        (bytes([0x10, 0x01]), False),  # P=1: interframe
        (bytes([0x00, 0x00]), False),  # not the start of a partition
        (bytes([0x11, 0x00]), False),  # partition 1
        (bytes([0x90, 0x80, 0x05, 0x00]), True),  # X, I with a 7-bit picture id
        (bytes([0x90, 0x80, 0x85, 0x12, 0x00]), True),  # 15-bit picture id
        (bytes([0x90, 0x80, 0x85, 0x12, 0x01]), False),
        (bytes([0x90, 0xE0, 0x05, 0x07, 0x20, 0x00]), True),  # I, L, T
        (bytes([0x90, 0x80]), False),  # truncated
        (b"", False),
    ],
)
def test_keyframe_detection(payload: bytes, expected: bool) -> None:
    assert is_keyframe_start(payload) is expected


def test_aiortc_packetizer_output_is_recognised() -> None:
    import fractions

    import av
    import numpy as np
    from aiortc.codecs.vpx import Vp8Encoder

    encoder = Vp8Encoder()
    rng = np.random.default_rng(1)
    frames = []
    for i in range(5):
        image = rng.integers(0, 255, (180 * 3 // 2, 320), dtype=np.uint8)
        frame = av.VideoFrame.from_ndarray(image, format="yuv420p")
        frame.pts, frame.time_base = i * 3000, fractions.Fraction(1, 90000)
        payloads, _ = encoder.encode(frame, force_keyframe=i == 0)
        frames.append(payloads)
    assert is_keyframe_start(frames[0][0])
    assert not any(is_keyframe_start(p) for p in frames[0][1:])
    assert not is_keyframe_start(frames[-1][0])


def test_descriptor_fields_find_the_picture_id_and_tl0picidx() -> None:
    from media.vp8 import descriptor_fields, picture_id, rewrite, temporal_id, tl0picidx

    # X; I, L, T; 15-bit picture id 0x1234; TL0PICIDX 9; TID 2, Y.
    payload = bytes([0x90, 0xE0, 0x92, 0x34, 0x09, 0xA0, 0x00])
    fields = descriptor_fields(payload)
    assert picture_id(payload, fields) == 0x1234
    assert tl0picidx(payload, fields) == 9
    assert temporal_id(payload) == 2
    moved = rewrite(payload, fields, 0x7FFF, 0xFF)  # minus one each, wrapping
    assert picture_id(moved, fields) == 0x1233 and tl0picidx(moved, fields) == 8
    assert moved[5:] == payload[5:] and moved[:2] == payload[:2]
    wrapped = rewrite(bytes([0x90, 0x80, 0xFF, 0xFF, 0x00]), 0x102, 1, 0)
    assert picture_id(wrapped, 0x102) == 0  # 15-bit wrap keeps the M bit
    assert wrapped[2] & 0x80


@pytest.mark.parametrize(
    "payload",
    [
        b"",
        b"\x10",
        bytes([0x10, 0x00]),
        bytes([0x90]),
        bytes([0x90, 0x80]),
        bytes([0x90, 0xC0, 0x85]),
    ],
)
def test_descriptors_without_room_for_the_fields_give_none(payload: bytes) -> None:
    from media.vp8 import descriptor_fields, rewrite

    fields = descriptor_fields(payload)
    assert rewrite(payload, fields, 5, 5) == payload
