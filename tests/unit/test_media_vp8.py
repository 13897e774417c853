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
