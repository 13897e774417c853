"""The demo conference comes with an English booth and a link per interpreter."""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

from rooms import SYSTEM, Conference
from server.config import ServerConfig
from server.demo import DEMO_CONFERENCE, demo_links
from server.tokens import verify_token

SECRET = "demo-secret-of-at-least-32-characters"


def test_the_demo_has_an_open_english_channel_with_two_interpreters() -> None:
    state = Conference(DEMO_CONFERENCE.id)
    for command in DEMO_CONFERENCE.commands():
        state.execute(command, SYSTEM, 1_760_000_000.0)
    interpretation = state.interpretation
    assert interpretation.languages == ("es", "en")
    assert interpretation.open_channels() == ("en",)
    assert [s.booth for s in interpretation.partners("en")] == ["en", "en"]


def test_the_demo_prints_a_link_per_interpreter_seated() -> None:
    links = demo_links(ServerConfig(secret=SECRET))
    seated = {s.participant_id for s in DEMO_CONFERENCE.setup if hasattr(s, "booth")}
    grants = {}
    for label, url in links.items():
        [token] = parse_qs(urlparse(url).query)["t"]
        grants[label] = verify_token(SECRET, token)
    interpreters = {g.participant for g in grants.values() if g.role == "interpreter"}
    assert interpreters == seated and len(seated) == 2
