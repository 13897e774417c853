"""Screen-share fields and messages: what the codec accepts and refuses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from signaling import (
    ErrorCode,
    ProtocolError,
    PublishOffer,
    ShareEnd,
    ShareStop,
    ShareStopped,
    encode,
    parse_client_message,
    parse_server_message,
)

SDP = "v=0\r\n"


def test_publish_offer_names_the_share_mid_only_when_sharing() -> None:
    assert json.loads(encode(PublishOffer(SDP))) == {"type": "publish.offer", "sdp": SDP}
    assert parse_client_message(encode(PublishOffer(SDP, "3"))) == PublishOffer(SDP, "3")
    null = parse_client_message(json.dumps({"type": "publish.offer", "sdp": SDP, "share": None}))
    assert null == PublishOffer(SDP)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "publish.offer", "sdp": SDP, "share": ""},
        {"type": "publish.offer", "sdp": SDP, "share": 2},
        {"type": "publish.offer", "sdp": SDP, "share": ["2"]},
        {"type": "publish.offer", "sdp": SDP, "share": "m" * 33},
        {"type": "share.stop"},
        {"type": "share.stop", "participant_id": ""},
        {"type": "share.stop", "participant_id": 5},
        {"type": "share.stop", "participant_id": None},
    ],
    ids=repr,
)
def test_bad_share_fields_are_bad_messages(frame: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as error:
        parse_client_message(json.dumps({**frame, "id": 7}))
    assert (error.value.code, error.value.ref) == (ErrorCode.BAD_MESSAGE, 7)


def test_share_stop_ignores_fields_that_would_speak_for_someone_else() -> None:
    frame = {"type": "share.stop", "id": 1, "participant_id": "p-gt", "actor": "p-chair"}
    assert parse_client_message(json.dumps(frame)) == ShareStop("p-gt", id=1)


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "share.stopped", "participant_id": "p", "producer_id": "pr", "actor": "a"},
        {
            "type": "share.stopped",
            "participant_id": "p",
            "producer_id": "pr",
            "reason": "bored",
            "actor": "a",
        },
        {"type": "share.stopped", "participant_id": "p", "producer_id": "pr", "reason": "floor"},
        {
            "type": "producer.added",
            "producer": {"id": "pr", "participant_id": "p", "kind": "video", "source": 1},
        },
    ],
    ids=repr,
)
def test_bad_share_server_messages(frame: dict[str, Any]) -> None:
    with pytest.raises(ProtocolError) as error:
        parse_server_message(json.dumps(frame))
    assert error.value.code is ErrorCode.BAD_MESSAGE


def test_every_reason_round_trips() -> None:
    for reason in ShareEnd:
        message = ShareStopped("p", "pr", reason, "system")
        assert parse_server_message(encode(message)) == message
