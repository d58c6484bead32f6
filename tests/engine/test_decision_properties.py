"""Properties of DecisionEngine over arbitrary sequences of frames and printer events.

A *script* is a list of steps ``(kind, dt, value)`` run against an engine that
starts a print at t = 0. Every property below follows from the rules in
``engine/decision.py``; the monotonicity ones rely on the fact that which
frames are counted depends only on the inputs, never on incidents.
"""

from dataclasses import dataclass, field

from hypothesis import given, settings as hsettings, strategies as st

from pinozcam_klipper.engine import (Box, DecisionEngine, DetectionSettings, EngineState,
                                     FrameAssessment, IncidentEvent, Verdict, assess_frame, band_for)

W, H = 40, 30


def frame_of(severity: float) -> FrameAssessment:
    return FrameAssessment(failure_area=severity / 10, severity=severity,
                           band=band_for(severity), boxes=())


severities = st.sampled_from([0.0, 0.5, 0.7, 1.0, 1.0])
# How often each step kind comes, out of 100: frames dominate, as in a real
# print, and the printer events are sprinkled in.
WEIGHTS = {"frame": 70, "tick": 8, "pause": 4, "resume": 5, "mute": 2, "unmute": 1, "layer": 8,
           "restart": 3}


def weighted_steps(frames: st.SearchStrategy, weights: dict[str, int] = WEIGHTS):
    table = [kind for kind, weight in weights.items() for _ in range(weight)]
    values = {
        "frame": st.tuples(st.integers(0, 4), frames),
        "tick": st.tuples(st.integers(0, 30), st.none()),
        "layer": st.tuples(st.integers(0, 3), st.one_of(st.none(), st.integers(0, 5))),
    }
    plain = st.tuples(st.integers(0, 3), st.none())

    @st.composite
    def step(draw):
        kind = table[draw(st.integers(0, len(table) - 1))]
        dt, value = draw(values.get(kind, plain))
        return kind, dt, value

    return step()


scripts = st.lists(weighted_steps(severities), min_size=10, max_size=80)

@st.composite
def detection_options(draw):
    return dict(
        warmup_frames=draw(st.integers(0, 3)),
        warmup_seconds=draw(st.integers(0, 15)),
        start_layer=draw(st.integers(0, 3)),
        resume_grace=draw(st.integers(0, 20)),
        consider_time=draw(st.integers(1, 30)),
        max_failure_count=draw(st.integers(1, 4)),
        escalate_after=draw(st.integers(0, 30)),
        action=draw(st.sampled_from(["notify", "pause", "cancel"])),
    )


@dataclass
class Record:
    """What a run produced: every event, plus the state around each step."""

    events: list[tuple[int, str, IncidentEvent]] = field(default_factory=list)  # (step, state, event)
    open_at_step: list[bool] = field(default_factory=list)
    starts: list[tuple[int, float]] = field(default_factory=list)  # (step, time)
    resumes: list[tuple[int, float]] = field(default_factory=list)
    muted_at_step: list[bool] = field(default_factory=list)  # muted when the step was taken
    frames: list[Verdict] = field(default_factory=list)  # the verdict of each frame, in order


def run(options: dict, script, frame_for=frame_of) -> Record:
    eng = DecisionEngine(DetectionSettings(**options))
    record = Record()
    now = 0.0
    record.starts.append((-1, now))
    incident_open = bool(eng.print_started(now))
    muted = False
    for index, (kind, dt, value) in enumerate(script):
        now += dt
        verdict = None
        if kind == "frame":
            verdict = eng.observe(frame_for(value), now)
            record.frames.append(verdict)
        elif kind == "tick":
            verdict = eng.tick(now)
        elif kind == "pause":
            eng.paused(now)
        elif kind == "resume":
            eng.resumed(now)
            record.resumes.append((index, now))
        elif kind == "mute":
            eng.mute(now)
            muted = True
        elif kind == "unmute":
            eng.unmute(now)
            muted = False
        elif kind == "layer":
            eng.set_layer(value)
        elif kind == "restart":
            for event in eng.print_ended(now):
                record.events.append((index, "idle", event))
            eng.print_started(now)
            record.starts.append((index, now))
            muted = False
            incident_open = False
        if verdict is not None:
            for event in verdict.events:
                record.events.append((index, verdict.state.value, event))
            incident_open = verdict.incident_id is not None
            assert 0.0 <= verdict.severity <= 1.0
            assert verdict.failures_in_window >= 0
        record.open_at_step.append(incident_open)
        record.muted_at_step.append(muted)
    return record


@hsettings(max_examples=150)
@given(detection_options(), scripts)
def test_each_incident_acts_once_and_escalates_at_most_once(options, script):
    record = run(options, script)
    by_incident: dict[int, list[IncidentEvent]] = {}
    for _, _, event in record.events:
        by_incident.setdefault(event.incident_id, []).append(event)
    for events in by_incident.values():
        kinds = [e.kind for e in events]
        assert kinds in (["opened"], ["opened", "closed"], ["opened", "escalated"],
                         ["opened", "escalated", "closed"])
        opened = events[0]
        assert opened.action in (options["action"], None)
        for event in events[1:]:
            if event.kind == "escalated":
                assert opened.action == "pause" and event.action == "cancel"
                assert options["escalate_after"] > 0
                assert event.time - opened.time >= options["escalate_after"]
            else:
                assert event.action is None


@hsettings(max_examples=150)
@given(detection_options(), scripts)
def test_an_incident_acts_unless_the_print_is_muted_when_it_opens(options, script):
    record = run(options, script)
    for step, _, event in record.events:
        if event.kind == "opened":
            assert event.action == (None if record.muted_at_step[step] else options["action"])
        if event.kind == "escalated":
            assert not record.muted_at_step[step]


@hsettings(max_examples=150)
@given(detection_options(), scripts)
def test_an_unmuted_print_never_goes_on_failing_under_an_incident_that_asked_for_nothing(options, script):
    """After each counted failure frame with the window full and the print not muted, the
    incident open asked for the configured action (an unmute re-arms a muted one)."""
    record = run(options, script)
    action_of: dict[int, str | None] = {}
    for verdict in record.frames:
        for event in verdict.events:
            if event.kind == "opened":
                action_of[event.incident_id] = event.action
        if (verdict.is_failure_frame and verdict.state is EngineState.WATCHING and not verdict.muted
                and verdict.failures_in_window >= options["max_failure_count"]):
            assert verdict.incident_id is not None
            assert action_of[verdict.incident_id] == options["action"]


@hsettings(max_examples=150)
@given(detection_options(), scripts)
def test_nothing_opens_during_warmup_or_grace(options, script):
    record = run(options, script)
    for step, state, event in record.events:
        if event.kind == "opened":
            assert state == EngineState.WATCHING.value
            start_step, started = max(s for s in record.starts if s[0] < step)
            assert event.time - started >= options["warmup_seconds"]
            resumes = [t for i, t in record.resumes if start_step < i < step]
            if resumes:
                assert event.time - resumes[-1] >= options["resume_grace"]
            frames = sum(1 for kind, _, _ in script[start_step + 1:step + 1] if kind == "frame")
            assert frames > options["warmup_frames"]
        if event.kind == "escalated":
            assert state == EngineState.PAUSED.value


def first_action(record: Record) -> float | None:
    times = [e.time for _, _, e in record.events if e.kind == "opened" and e.action is not None]
    return times[0] if times else None


def count_incidents(record: Record) -> int:
    """Incidents opened, less those that replaced a muted one after an unmute (the only way an
    incident closes and another opens at the same step): one per stretch of failures."""
    closing_steps = {step for step, _, e in record.events if e.kind == "closed"}
    return sum(1 for step, _, e in record.events if e.kind == "opened" and step not in closing_steps)


def count_actions(record: Record) -> int:
    return sum(1 for _, _, e in record.events if e.kind == "opened" and e.action is not None)


def assert_at_least_as_eager(eager: Record, calm: Record) -> None:
    calm_first, eager_first = first_action(calm), first_action(eager)
    if calm_first is not None:
        assert eager_first is not None and eager_first <= calm_first
    # Whenever the calm engine has an incident open, so has the eager one.
    assert all(e or not c for e, c in zip(eager.open_at_step, calm.open_at_step))


@hsettings(max_examples=150)
@given(detection_options(), st.integers(1, 4), scripts)
def test_a_lower_failure_count_never_gives_fewer_incidents_or_later_action(options, lower, script):
    calm_options = dict(options)
    eager_options = dict(options, max_failure_count=min(lower, options["max_failure_count"]))
    calm, eager = run(calm_options, script), run(eager_options, script)
    assert count_incidents(eager) >= count_incidents(calm)
    assert count_actions(eager) >= count_actions(calm)
    assert_at_least_as_eager(eager, calm)


# Frames as boxes, so the thresholds act through assess_frame. Integer boxes
# keep the areas exact, which makes severity exactly monotone.
box_frames = st.lists(
    st.tuples(st.integers(0, W - 1), st.integers(0, H - 1), st.integers(1, W), st.integers(1, H),
              st.sampled_from([0.3, 0.6, 0.85, 0.95])),
    max_size=4,
)
box_steps = weighted_steps(box_frames, {k: w for k, w in WEIGHTS.items() if "mute" not in k})

@hsettings(max_examples=120)
@given(detection_options(), st.sampled_from([0.3, 0.6, 0.85, 0.95]),
       st.sampled_from([0.3, 0.6, 0.85, 0.95]), st.sampled_from([0.05, 0.1, 0.3, 0.6]),
       st.sampled_from([0.05, 0.1, 0.3, 0.6]), st.lists(box_steps, min_size=10, max_size=60))
def test_lower_thresholds_never_act_later(options, score_a, score_b, sens_a, sens_b, script):
    low_score, high_score = sorted((score_a, score_b))
    low_sens, high_sens = sorted((sens_a, sens_b))
    eager_settings = DetectionSettings(score_threshold=low_score, image_sensitivity=low_sens)
    calm_settings = DetectionSettings(score_threshold=high_score, image_sensitivity=high_sens)

    def assessed(settings):
        def frame_for(raw):
            boxes = [Box(x, y, x + w, y + h, score, "spaghetti") for x, y, w, h, score in raw]
            return assess_frame(boxes, W, H, settings)
        return frame_for

    eager = run(dict(options, score_threshold=low_score, image_sensitivity=low_sens), script,
                assessed(eager_settings))
    calm = run(dict(options, score_threshold=high_score, image_sensitivity=high_sens), script,
               assessed(calm_settings))
    assert_at_least_as_eager(eager, calm)
