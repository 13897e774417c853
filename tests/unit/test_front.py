"""The front of `--workers N`: which worker a request goes to, and /metrics joined."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from server.config import ServerConfig
from server.front import conference_of_path, conference_of_token, merge_metrics
from server.tokens import issue_token
from server.workers import Placement

SECRET = "unit-secret-of-at-least-32-bytes-long"


def test_the_conference_of_a_path() -> None:
    assert conference_of_path("/api/conferences/alpha") == "alpha"
    assert conference_of_path("/api/conferences/alpha/tokens") == "alpha"
    assert conference_of_path("/c/alpha/minutes") == "alpha"
    assert conference_of_path("/c/alpha/recordings/x.webm") == "alpha"
    # Pages, the collection and everything else go to any worker.
    for path in ("/c/alpha", "/api/conferences", "/api/conferences/", "/", "/web/app.js"):
        assert conference_of_path(path) is None


def test_only_a_valid_token_names_a_conference() -> None:
    config = ServerConfig(secret=SECRET)
    token = issue_token(SECRET, conference="alpha", role="head", name="N", delegation="gt")
    assert conference_of_token(config, token) == "alpha"
    forged = issue_token(
        "another-secret-of-at-least-32-bytes!", conference="alpha", role="head", name="N"
    )
    for bad in (forged, token[:-2], "", None, 7):
        assert conference_of_token(config, bad) is None


def test_placement_spreads_new_conferences_and_keeps_them() -> None:
    placement = Placement(2)
    assert [placement.place(c) for c in ("a", "b", "c", "d")] == [0, 1, 0, 1]
    assert placement.place("a") == 0 and placement.of("a") == 0 and placement.of("z") is None
    assert placement.place("e", 1) == 1 and placement.least_loaded() == 0
    assert placement.on(1) == ["b", "d", "e"]


WORKER_0 = """# HELP palabra_conferences Open conferences
# TYPE palabra_conferences gauge
palabra_conferences 1.0
# HELP palabra_participants Connected participants
# TYPE palabra_participants gauge
palabra_participants{conference="alpha",where="room"} 3.0
# HELP palabra_forwarded_packets_total RTP packets forwarded
# TYPE palabra_forwarded_packets_total counter
palabra_forwarded_packets_total 120.0
"""
WORKER_1 = WORKER_0.replace("alpha", "beta").replace("120.0", "80.0")


def test_metrics_of_the_workers_join_into_one_exposition() -> None:
    merged = merge_metrics([("0", WORKER_0), ("1", WORKER_1)])
    families = {f.name: f for f in text_string_to_metric_families(merged)}
    assert merged.count("# TYPE palabra_participants gauge") == 1
    participants = {
        (s.labels["worker"], s.labels["conference"]): s.value
        for s in families["palabra_participants"].samples
    }
    assert participants == {("0", "alpha"): 3.0, ("1", "beta"): 3.0}
    forwarded = {s.labels["worker"]: s.value for s in families["palabra_forwarded_packets"].samples}
    assert forwarded == {"0": 120.0, "1": 80.0}
