"""The table ``palabra bench forwarding --against janus`` prints and writes."""

from __future__ import annotations

from bench.forwarding import COMPARED, side_by_side


def figures(us: float, fps: float) -> dict[str, object]:
    return {
        "server_cpu_us_per_forwarded_packet": us,
        "forwarded_packets_per_s": 13600.0,
        "server_cpu_cores": 0.1,
        "loss_ratio": 0.0,
        "subscriber_video_fps_min": fps,
        "join_time_ms_p95": 300.0,
        "load_average_1m": 1.5,
        "seconds": 30.0,
    }


def test_every_figure_side_by_side_with_the_ratio_per_path() -> None:
    table = side_by_side(
        {"native": figures(5.0, 30.0), "python": figures(12.0, 29.5)}, figures(20.0, 30.0)
    )
    assert table["server_cpu_us_per_forwarded_packet"] == {
        "palabra_native": 5.0,
        "palabra_python": 12.0,
        "janus": 20.0,
    }
    assert table["subscriber_video_fps_min"]["palabra_python"] == 29.5
    assert table["palabra_native_over_janus"] == 0.25
    assert table["palabra_python_over_janus"] == 0.6
    assert all(key in table for key in COMPARED)
    assert "seconds" not in table


def test_no_ratio_without_a_janus_figure() -> None:
    janus = figures(0.0, 0.0)
    table = side_by_side({"native": figures(5.0, 30.0)}, janus)
    assert table["palabra_native_over_janus"] is None


def test_a_part_that_failed_shows_as_missing() -> None:
    table = side_by_side({"native": figures(5.0, 30.0)}, {"error": "TimeoutError: "})
    assert table["server_cpu_us_per_forwarded_packet"] == {"palabra_native": 5.0, "janus": None}
    assert table["palabra_native_over_janus"] is None
