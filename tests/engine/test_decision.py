"""DecisionEngine: incidents open, act once, escalate, close; warm-up, pauses, grace, mute."""

import json

from pinozcam_klipper.engine import (DecisionEngine, DetectionSettings, EngineState,
                                     FrameAssessment)

FAIL = FrameAssessment(failure_area=0.05, severity=1.0, band="failure", boxes=())
WARN = FrameAssessment(failure_area=0.02, severity=0.5, band="warning", boxes=())
OK = FrameAssessment(failure_area=0.0, severity=0.0, band="ok", boxes=())


def engine(**options):
    """An engine with no warm-up, counting 3 failures in 10 s, pausing; overridable."""
    base = dict(warmup_frames=0, warmup_seconds=0, start_layer=0, resume_grace=30,
                max_failure_count=3, consider_time=10, action="pause")
    base.update(options)
    started = DecisionEngine(DetectionSettings(**base))
    started.print_started(0.0, file="benchy.gcode")
    return started


def feed(eng, frames, start, step=1.0):
    """Observe ``frames`` one per ``step`` seconds from ``start``; all events, in order."""
    events = []
    for index, frame in enumerate(frames):
        events.extend(eng.observe(frame, start + index * step).events)
    return events


def test_third_failure_frame_opens_an_incident_that_pauses_once():
    eng = engine()
    events = feed(eng, [FAIL, FAIL], 1)
    assert events == []
    verdict = eng.observe(FAIL, 3)
    assert [(e.kind, e.action, e.failures, e.file) for e in verdict.events] == \
        [("opened", "pause", 3, "benchy.gcode")]
    assert verdict.incident_id == verdict.events[0].incident_id
    assert feed(eng, [FAIL] * 20, 4) == []  # still failing: no second action


def test_warnings_do_not_count():
    eng = engine()
    assert feed(eng, [WARN] * 10, 1) == []
    assert eng.observe(WARN, 11).failures_in_window == 0


def test_failures_spread_wider_than_consider_time_never_open():
    eng = engine(consider_time=5)
    assert feed(eng, [FAIL, OK, OK, FAIL, OK, OK, FAIL], 1, step=1.0) == []  # 1, 4, 7: window 5 s
    assert eng.observe(FAIL, 8).events[0].kind == "opened"  # 4, 7, 8


def test_incident_closes_once_the_window_empties_and_can_open_again():
    eng = engine()
    opened = feed(eng, [FAIL] * 3, 1)[0]
    assert eng.tick(12) is None  # frame at 3 s still counts until 13 s
    closing = eng.tick(13.5)
    assert closing is not None
    assert [(e.kind, e.incident_id, e.action) for e in closing.events] == \
        [("closed", opened.incident_id, None)]
    assert closing.incident_id is None
    again = feed(eng, [FAIL] * 3, 20)
    assert [e.kind for e in again] == ["opened"]
    assert again[0].incident_id == opened.incident_id + 1


def test_notify_and_cancel_are_requested_as_configured():
    for action in ("notify", "cancel"):
        eng = engine(action=action)
        assert feed(eng, [FAIL] * 3, 1)[0].action == action


def test_warmup_waits_for_frames_and_seconds():
    eng = engine(warmup_frames=3, warmup_seconds=10)
    verdicts = [eng.observe(FAIL, t) for t in (1, 2, 3, 4, 5)]
    assert all(v.warming_up and not v.events for v in verdicts)
    assert eng.observe(FAIL, 10).state is EngineState.WATCHING
    assert [e.kind for e in feed(eng, [FAIL, FAIL], 11)] == ["opened"]


def test_the_first_warmup_frames_never_count():
    eng = engine(warmup_frames=2, max_failure_count=1)
    assert feed(eng, [FAIL, FAIL], 1) == []
    assert [e.kind for e in eng.observe(FAIL, 3).events] == ["opened"]


def test_warmup_waits_for_the_start_layer_when_layers_are_known():
    eng = engine(start_layer=3)
    eng.set_layer(2)
    assert feed(eng, [FAIL] * 5, 1) == []
    eng.set_layer(3)
    assert [e.kind for e in feed(eng, [FAIL] * 3, 6)] == ["opened"]


def test_a_layer_below_the_start_layer_reported_after_warmup_is_not_counted():
    # A cold printer: warm-up ends while it heats (no layer yet); its start gcode reports
    # layer 1 only when printing begins. That layer is skipped as on a preheated printer.
    eng = engine(start_layer=2, warmup_seconds=10)
    assert feed(eng, [OK] * 3, 1) == []
    assert eng.observe(OK, 12).state is EngineState.WATCHING
    eng.set_layer(1)
    assert eng.observe(FAIL, 13).state is EngineState.WARMING_UP
    assert feed(eng, [FAIL] * 5, 14) == []
    eng.set_layer(2)
    assert [e.kind for e in feed(eng, [FAIL] * 3, 20)] == ["opened"]


def test_an_unknown_layer_does_not_hold_warmup_back():
    eng = engine(start_layer=5)
    eng.set_layer(None)
    assert [e.kind for e in feed(eng, [FAIL] * 3, 1)] == ["opened"]


def test_start_layer_one_means_from_the_first_layer():
    eng = engine(start_layer=1)
    eng.set_layer(0)
    assert [e.kind for e in feed(eng, [FAIL] * 3, 1)] == ["opened"]


def test_a_pause_that_lasts_escalates_to_cancel_once():
    eng = engine(escalate_after=60)
    opened = feed(eng, [FAIL] * 3, 1)[0]
    eng.paused(3.5)
    assert eng.tick(62) is None
    verdict = eng.tick(63)
    assert verdict is not None
    assert [(e.kind, e.action, e.incident_id) for e in verdict.events] == \
        [("escalated", "cancel", opened.incident_id)]
    assert eng.tick(200) is None
    assert eng.observe(FAIL, 201).events == ()


def test_a_paused_print_keeps_its_incident_open_beyond_the_window():
    eng = engine(escalate_after=0)
    feed(eng, [FAIL] * 3, 1)
    eng.paused(4)
    assert eng.tick(1000) is None
    verdict = eng.observe(FAIL, 1001)  # frames while paused are not counted
    assert verdict.state is EngineState.PAUSED
    assert verdict.failures_in_window == 0
    assert verdict.incident_id is not None


def test_a_resumed_incident_stays_open_through_the_grace_then_closes():
    """Open through the grace, so a Telegram Pause on its alert still works if the user
    changes their mind; closed after it, so a failure that persists opens a new incident."""
    eng = engine(escalate_after=60, resume_grace=30)
    opened = feed(eng, [FAIL] * 3, 1)[0]
    eng.paused(4)
    eng.resumed(20)
    verdict = eng.observe(FAIL, 21)
    assert verdict.events == ()
    assert verdict.state is EngineState.GRACE and verdict.incident_id == opened.incident_id
    assert feed(eng, [FAIL] * 20, 22) == []  # 22..41 s: grace runs to 50 s
    assert eng.tick(49) is None
    closed = eng.tick(50)
    assert closed is not None and [(e.kind, e.incident_id) for e in closed.events] == [("closed", opened.incident_id)]
    assert eng.tick(100) is None  # and nothing escalates
    assert [e.kind for e in feed(eng, [FAIL] * 3, 101)] == ["opened"]


def test_with_no_resume_grace_a_resumed_incident_closes_at_once():
    eng = engine(resume_grace=0)
    opened = feed(eng, [FAIL] * 3, 1)[0]
    eng.paused(4)
    eng.resumed(5)
    verdict = eng.observe(OK, 6)
    assert [(e.kind, e.incident_id) for e in verdict.events] == [("closed", opened.incident_id)]


def test_no_escalation_after_the_user_resumes_and_pauses_again():
    eng = engine(escalate_after=10)
    feed(eng, [FAIL] * 3, 1)
    eng.paused(4)
    eng.resumed(5)
    eng.paused(6)
    assert eng.tick(100) is None


def test_no_escalation_for_notify_incidents_or_when_disabled():
    for options in (dict(action="notify", escalate_after=5), dict(escalate_after=0)):
        eng = engine(**options)
        feed(eng, [FAIL] * 3, 1)
        eng.paused(4)
        assert eng.tick(1000) is None


def test_muted_print_records_incidents_without_actions():
    eng = engine(escalate_after=5)
    eng.mute(0.5)
    events = feed(eng, [FAIL] * 3, 1)
    assert [(e.kind, e.action) for e in events] == [("opened", None)]
    eng.paused(4)
    assert eng.tick(100) is None
    assert eng.observe(OK, 101).muted


def test_mute_during_an_incident_stops_its_escalation():
    eng = engine(escalate_after=5)
    feed(eng, [FAIL] * 3, 1)
    eng.paused(4)
    eng.mute(5)
    assert eng.tick(100) is None


def test_print_end_closes_the_open_incident_and_resets():
    eng = engine()
    opened = feed(eng, [FAIL] * 3, 1)[0]
    closed = eng.print_ended(5)
    assert [(e.kind, e.incident_id) for e in closed] == [("closed", opened.incident_id)]
    verdict = eng.observe(FAIL, 6)
    assert verdict.state is EngineState.IDLE
    assert (verdict.events, verdict.failures_in_window, verdict.incident_id) == ((), 0, None)
    assert eng.print_ended(7) == ()
    eng.print_started(8)
    reopened = feed(eng, [FAIL] * 3, 9)[0]
    assert reopened.incident_id == opened.incident_id + 1


def test_frames_before_any_print_are_reported_but_never_counted():
    eng = DecisionEngine(DetectionSettings(warmup_frames=0, warmup_seconds=0))
    verdicts = [eng.observe(FAIL, t) for t in range(1, 10)]
    assert all(v.state is EngineState.IDLE and not v.events for v in verdicts)
    assert verdicts[-1].severity == 1.0 and verdicts[-1].is_failure_frame


def test_time_running_backwards_is_treated_as_standing_still():
    eng = engine()
    feed(eng, [FAIL, FAIL], 10)
    verdict = eng.observe(FAIL, 5)
    assert verdict.events[0].time == 11


def test_verdicts_and_events_are_json():
    eng = engine()
    feed(eng, [FAIL] * 2, 1)
    verdict = eng.observe(FAIL, 3)
    data = json.loads(json.dumps(verdict.to_dict()))
    assert data["events"][0]["kind"] == "opened"
    assert data["state"] == "watching"
    assert data["warming_up"] is False


def test_an_unmuted_print_acts_and_escalates_again():
    eng = engine(escalate_after=5)
    feed(eng, [FAIL] * 3, 1)
    eng.paused(4)
    eng.mute(5)
    assert eng.tick(100) is None  # muted: the paused incident does not cancel the print
    eng.unmute(101)
    assert [(e.kind, e.action) for e in eng.tick(102).events] == [("escalated", "cancel")]


def test_after_an_unmute_the_next_incident_requests_its_action():
    eng = engine()
    eng.mute(0.5)
    assert [(e.kind, e.action) for e in feed(eng, [FAIL] * 3, 1)] == [("opened", None)]
    eng.unmute(10)
    assert [e.kind for e in feed(eng, [OK] * 2, 100)] == ["closed"]
    assert [(e.kind, e.action) for e in feed(eng, [FAIL] * 3, 200)] == [("opened", "pause")]
    assert not eng.observe(OK, 300).muted


def test_unmuting_while_the_failure_goes_on_pauses_at_the_next_failure_frame():
    """Muted, a failure opens an incident that asks for nothing; the user unmutes while it goes
    on: the next failure frame must pause (and alert), through a new incident, once."""
    eng = engine(escalate_after=5)
    eng.mute(0.5)
    muted = feed(eng, [FAIL] * 3, 1)
    assert [(e.kind, e.action) for e in muted] == [("opened", None)]
    eng.unmute(4)
    verdict = eng.observe(FAIL, 5)
    assert [(e.kind, e.incident_id, e.action) for e in verdict.events] == \
        [("closed", muted[0].incident_id, None), ("opened", muted[0].incident_id + 1, "pause")]
    assert verdict.incident_id == muted[0].incident_id + 1 and not verdict.muted
    assert feed(eng, [FAIL] * 5, 6) == []  # still failing: the new incident acted, once
    eng.paused(11)
    assert [(e.kind, e.action) for e in eng.tick(20).events] == [("escalated", "cancel")]


def test_an_unmute_replaces_no_incident_that_already_acted_or_whose_failure_stopped():
    eng = engine()
    acted = feed(eng, [FAIL] * 3, 1)
    eng.mute(4)
    eng.unmute(5)
    assert feed(eng, [FAIL] * 3, 6) == []  # it paused before the mute: nothing to do again
    assert [e.kind for e in eng.tick(100).events] == ["closed"]
    eng.mute(101)
    assert [(e.kind, e.action) for e in feed(eng, [FAIL] * 3, 102)] == [("opened", None)]
    eng.mute(105)
    eng.unmute(106)
    eng.mute(107)  # muted again before the failure went on: the incident stays as it is
    assert feed(eng, [FAIL] * 2, 108) == []
    eng.unmute(200)  # the failure stopped meanwhile: the muted incident just closes
    assert [(e.kind, e.action) for e in feed(eng, [OK, FAIL], 201)] == [("closed", None)]
    assert acted[0].action == "pause"


def test_a_taken_over_incident_escalates_from_when_it_first_opened_and_closes_after_a_resume():
    eng = engine(escalate_after=60, resume_grace=10)
    eng.print_started(1000)
    eng.paused(1000)
    eng.take_over(1000, opened_at=950, action="pause")
    assert eng.tick(1005) is None  # still paused: it stays open
    assert [(e.kind, e.action) for e in eng.tick(1011).events] == [("escalated", "cancel")]
    eng.resumed(1020)
    assert eng.tick(1025) is None  # the resume's grace
    assert [e.kind for e in eng.tick(1031).events] == ["closed"]
