"""DecisionEngine.update_settings: new settings apply at once, the print's state is kept."""

from pinozcam_klipper.engine import DecisionEngine, DetectionSettings, FrameAssessment

FAIL = FrameAssessment(failure_area=0.05, severity=1.0, band="failure", boxes=())
OK = FrameAssessment(failure_area=0.0, severity=0.0, band="ok", boxes=())
BASE = dict(warmup_frames=0, warmup_seconds=0, start_layer=0, resume_grace=30,
            max_failure_count=3, consider_time=10, action="pause", escalate_after=60)


def engine(**options) -> DecisionEngine:
    started = DecisionEngine(DetectionSettings(**{**BASE, **options}))
    started.print_started(0.0, file="benchy.gcode")
    return started


def settings(**options) -> DetectionSettings:
    return DetectionSettings(**{**BASE, **options})


def test_action_changed_to_notify_applies_to_the_next_incident():
    eng = engine()
    eng.update_settings(settings(action="notify"))
    opened = [e for t in (1, 2, 3) for e in eng.observe(FAIL, t).events]
    assert [(e.kind, e.action) for e in opened] == [("opened", "notify")]


def test_lower_max_failure_count_opens_at_the_next_failure_frame():
    eng = engine(max_failure_count=5)
    assert [e for t in (1, 2) for e in eng.observe(FAIL, t).events] == []
    eng.update_settings(settings(max_failure_count=2))
    verdict = eng.observe(FAIL, 3)
    assert [(e.kind, e.failures) for e in verdict.events] == [("opened", 3)]


def test_shorter_consider_time_expires_the_window_at_once():
    eng = engine()
    eng.observe(FAIL, 1)
    eng.observe(FAIL, 2)
    eng.update_settings(settings(consider_time=1))
    verdict = eng.observe(FAIL, 4)  # 1 and 2 are older than 1 s now
    assert verdict.events == () and verdict.failures_in_window == 1


def test_open_incident_keeps_its_pause_and_stops_escalating_under_notify():
    eng = engine()
    opened = [e for t in (1, 2, 3) for e in eng.observe(FAIL, t).events]
    assert opened[0].action == "pause"
    eng.paused(4)
    eng.update_settings(settings(action="notify"))
    assert eng.tick(100) is None  # no escalation to cancel once the user chose notify
    assert eng.observe(FAIL, 101).incident_id == opened[0].incident_id  # still open while paused


def test_escalation_follows_a_new_escalate_after():
    eng = engine(escalate_after=0)
    [e for t in (1, 2, 3) for e in eng.observe(FAIL, t).events]
    eng.paused(4)
    assert eng.tick(50) is None
    eng.update_settings(settings(escalate_after=30))
    verdict = eng.tick(51)
    assert verdict is not None and [(e.kind, e.action) for e in verdict.events] == [("escalated", "cancel")]


def test_warmup_already_over_stays_over():
    eng = DecisionEngine(settings(warmup_frames=1))
    eng.print_started(0.0)
    eng.observe(OK, 1)
    assert eng.observe(OK, 2).state.value == "watching"
    eng.update_settings(settings(warmup_frames=100))
    assert eng.observe(OK, 3).state.value == "watching"
