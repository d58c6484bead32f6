"""The websocket protocol's message parsing: every bad message is a ProtocolError naming the problem."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pinozcam_klipper.worker.protocol import (MAX_MESSAGE_BYTES, ActionResult, Configure, Feedback,
                                              Hello, PrintState, ProtocolError, parse_message)


def test_print_state_with_objects_parses() -> None:
    message = parse_message(json.dumps({
        "type": "print_state", "state": "printing", "file": "benchy.gcode", "progress": 0.25,
        "layer": 12, "total_layers": 200,
        "objects": [{"name": "benchy", "polygon": [[0, 0], [10, 0], [10, 10]]}]}))
    assert isinstance(message, PrintState)
    assert message.layer == 12 and message.objects[0].polygon[2] == (10.0, 10.0)


@pytest.mark.parametrize("raw, code, option", [
    ("{", "bad_json", None),
    ("[1, 2]", "bad_message", None),
    ('{"type": 3}', "bad_message", "type"),
    ('{"type": "launch_rocket"}', "unknown_type", "type"),
    ('{"type": "print_state", "state": "flying"}', "bad_field", "state"),
    ('{"type": "print_state", "state": "printing", "progress": "half"}', "bad_field", "progress"),
    ('{"type": "print_state", "state": "printing", "layer": true}', "bad_field", "layer"),
    ('{"type": "print_state"}', "missing_field", "state"),
    ('{"type": "configure", "settings": [1]}', "bad_field", "settings"),
    ('{"type": "feedback", "label": "real_failure"}', "missing_field", "incident_id"),
    ('{"type": "feedback", "incident_id": "x", "label": "meh"}', "bad_field", "label"),
    ('{"type": "action_result", "incident_id": "x", "result": "maybe"}', "bad_field", "result"),
    ('{"type": "hello"}', "missing_field", "protocol"),
])
def test_bad_messages_name_the_problem(raw: str, code: str, option: str | None) -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_message(raw)
    assert caught.value.code == code
    assert caught.value.option == option


def test_binary_and_oversize_messages_are_refused() -> None:
    with pytest.raises(ProtocolError) as binary:
        parse_message(b'{"type": "status"}')
    assert binary.value.code == "bad_message"
    with pytest.raises(ProtocolError) as big:
        parse_message(json.dumps({"type": "status", "pad": "x" * MAX_MESSAGE_BYTES}))
    assert big.value.code == "too_big"


def test_good_messages() -> None:
    assert parse_message('{"type": "hello", "protocol": 1}') == Hello("1")
    assert parse_message('{"type": "configure", "settings": {"preset": "strict"}}') == \
        Configure({"preset": "strict"}, False)
    assert parse_message('{"type": "configure", "settings": {}, "replace": true}') == Configure({}, True)
    assert parse_message('{"type": "feedback", "frame_id": 4, "label": "false_alarm"}') == \
        Feedback("false_alarm", None, 4)
    assert parse_message('{"type": "action_result", "incident_id": "a", "result": "done"}') == \
        ActionResult("a", "done")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(st.one_of(json_values.map(json.dumps), st.text(max_size=200),
                 st.fixed_dictionaries({"type": st.sampled_from(
                     ["hello", "configure", "print_state", "detect_now", "mute", "feedback",
                      "action_result", "status", "auth"])}, optional={
                     "state": json_values, "protocol": json_values, "settings": json_values,
                     "label": json_values, "incident_id": json_values, "frame_id": json_values,
                     "result": json_values, "objects": json_values, "layer": json_values,
                     "progress": json_values, "muted": json_values, "token": json_values,
                 }).map(json.dumps)))
def test_any_text_parses_or_raises_protocol_error(raw: str) -> None:
    try:
        parse_message(raw)
    except ProtocolError as exc:
        assert exc.code and exc.message


def test_history_request_and_action_result_with_its_request_id() -> None:
    from pinozcam_klipper.worker.protocol import HistoryRequest

    assert parse_message('{"type": "history"}') == HistoryRequest()
    result = parse_message(json.dumps({"type": "action_result", "incident_id": "i", "result": "done",
                                       "action": "pause", "request_id": "r1"}))
    assert isinstance(result, ActionResult) and result.request_id == "r1"
    old = parse_message('{"type": "action_result", "incident_id": "i", "result": "done"}')
    assert isinstance(old, ActionResult) and old.request_id == ""
