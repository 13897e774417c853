"""The table ``palabra bench forwarding --against janus`` prints and writes."""

from __future__ import annotations

from bench.forwarding import COMPARED, Sample, side_by_side, summarise


def figures(us: float, fps: float) -> dict[str, object]:
    return {
        "server_cpu_us_per_forwarded_packet": us,
        "server_cpu_us_per_sent_packet": us / 2,
        "udp_drops_at_client_sockets": 0,
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
    assert table["palabra_native_over_janus_sent"] == 0.25
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


def test_packets_the_clients_sockets_dropped_count_as_sent_by_the_server() -> None:
    def at(t: float, cpu: float, packets: int, drops: int) -> Sample:
        streams = {"0:1": (packets, packets // 4, 0, packets * 1000, 1)}
        return Sample(
            at=t,
            server_cpu=cpu,
            server_cpu_by_process={1: cpu},
            own_cpu=0.0,
            streams=streams,
            sent=packets,
            udp={},
            server_drops=0,
            client_drops=drops,
        )

    result = summarise(at(0, 0.0, 0, 0), at(10, 1.0, 75_000, 25_000), 2, 2, 2, False, [], None)
    assert result["server_cpu_us_per_forwarded_packet"] == round(1e6 / 75_000, 2)
    assert result["server_cpu_us_per_sent_packet"] == 10.0
    assert result["udp_drops_at_client_sockets"] == 25_000
