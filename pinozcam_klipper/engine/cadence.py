"""How often the engine is fed: shared by the live worker and ``pinozcam replay``, so the
offline tuner checks the frames the worker would check and reaches the same verdict."""

from __future__ import annotations

from .decision import EngineState, Verdict

__all__ = ["TICK_EVERY", "failure_building"]

#: Seconds between the engine's clock ticks (:meth:`DecisionEngine.tick`): events that need
#: no frame (an incident closing, a pause escalating) happen on these.
TICK_EVERY = 1.0


def failure_building(verdict: Verdict | None, *, muted: bool = False) -> bool:
    """Whether the next check should come at ``fast_check_interval``: only while a failure
    frame can still count towards an incident. Not during warm-up or a resume's grace, not
    muted, and not for frames merely in the warning band (a printer part that scores there
    would triple the CPU all print)."""
    return (verdict is not None and verdict.incident_id is None and not muted
            and verdict.state is EngineState.WATCHING
            and (verdict.band == "failure" or verdict.failures_in_window > 0))
