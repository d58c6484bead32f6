"""DetectionSettings: presets, explicit overrides, bounds and masks, as a user configures them."""

import dataclasses
import json

import pytest

from pinozcam_klipper.engine import PRESETS, DetectionSettings
from pinozcam_klipper.options import SettingsError, load_section, section_to_dict


def load(**data):
    return load_section(DetectionSettings, data)


def test_defaults_are_the_webcam_preset():
    resolved = load().resolved()
    assert resolved.preset == "webcam"
    assert (resolved.score_threshold, resolved.image_sensitivity, resolved.display_threshold) == \
        (0.94, 0.03, 0.75)
    assert (resolved.max_failure_count, resolved.consider_time) == (3, 60.0)
    assert resolved.action == "pause"
    assert (resolved.warmup_frames, resolved.warmup_seconds, resolved.start_layer,
            resolved.resume_grace, resolved.escalate_after) == (3, 20.0, 2, 60.0, 0.0)
    assert resolved.masks == ()


def test_nozzlecam_preset_takes_pinozcam_values():
    resolved = load(preset="NozzleCam").resolved()
    assert (resolved.score_threshold, resolved.image_sensitivity, resolved.display_threshold) == \
        (0.83, 0.05, 0.6)


def test_an_explicit_value_overrides_only_itself():
    resolved = load(preset="nozzlecam", score_threshold="0.5", max_failure_count=7).resolved()
    assert resolved.score_threshold == 0.5
    assert resolved.max_failure_count == 7
    assert resolved.image_sensitivity == 0.05  # still the preset's
    assert resolved.consider_time == 60.0


def test_preset_ladder_goes_from_most_to_least_eager():
    ladder = [PRESETS[name] for name in ("strictest", "strict", "medium", "loose", "loosest")]
    for eager, calm in zip(ladder, ladder[1:]):
        assert eager.score_threshold < calm.score_threshold
        assert eager.image_sensitivity <= calm.image_sensitivity
        assert eager.max_failure_count <= calm.max_failure_count
        assert eager.consider_time >= calm.consider_time


@pytest.mark.parametrize(("option", "value"), [
    ("preset", "paranoid"),
    ("consider_time", -5),
    ("consider_time", 0.5),
    ("score_threshold", 0),
    ("score_threshold", 1.5),
    ("image_sensitivity", "lots"),
    ("display_threshold", -0.1),
    ("max_failure_count", 0),
    ("action", "explode"),
    ("escalate_after", -1),
    ("warmup_frames", 1.5),
    ("warmup_seconds", -1),
    ("start_layer", -1),
    ("resume_grace", -1),
    ("masks", "0,0 1,0"),
    ("masks", "0,0 1,0 1"),
    ("masks", "0,0 1,0 1,1 banana"),
    ("masks", "0,0 2,0 1,1"),
    ("masks", "0,0 0.5,0.5 1,1"),
    ("masks", "[[0, 0], [1, 0]"),
    ("masks", [[[0, 0], [1, 0]]]),
    ("masks", {"a": 1}),
    ("masks", 5),
])
def test_a_bad_value_is_rejected_naming_its_option(option, value):
    with pytest.raises(SettingsError) as caught:
        load(**{option: value})
    assert caught.value.option == option
    assert f"'{option}'" in str(caught.value)


def test_bad_mask_error_says_which_polygon():
    with pytest.raises(SettingsError, match="polygon 2 has 2 points"):
        load(masks="0,0 0.2,0 0.2,0.3; 0.5,0.5 0.6,0.6")


def test_mask_text_parses_points_and_polygons():
    masks = load(masks="0,0 0.2,0 0.2,0.3; 0.8,0.8 1,0.8 1,1").masks
    assert masks == (((0.0, 0.0), (0.2, 0.0), (0.2, 0.3)), ((0.8, 0.8), (1.0, 0.8), (1.0, 1.0)))


def test_mask_text_accepts_new_lines_between_polygons():
    masks = load(masks="\n0,0 0.2,0 0.2,0.3\n  0.8,0.8 1,0.8 1,1\n").masks
    assert len(masks) == 2


def test_masks_accept_lists_and_json_text_alike():
    as_list = [[[0, 0], [0.2, 0], [0.2, 0.3]], [[0.8, 0.8], [1, 0.8], [1, 1]]]
    assert load(masks=as_list).masks == load(masks=json.dumps(as_list)).masks == \
        load(masks="0,0 0.2,0 0.2,0.3; 0.8,0.8 1,0.8 1,1").masks


@pytest.mark.parametrize("empty", ["", "  ", "none", None, []])
def test_empty_masks_mean_none(empty):
    assert load(masks=empty).masks == ()


def test_settings_survive_a_round_trip_through_a_plain_dict():
    settings = load(preset="strict", score_threshold=0.6, masks="0,0 0.2,0 0.2,0.3")
    plain = section_to_dict(settings)
    json.dumps(plain)
    assert load(**plain) == settings


def test_direct_construction_checks_preset_and_parses_masks():
    with pytest.raises(SettingsError) as caught:
        DetectionSettings(preset="bogus")
    assert caught.value.option == "preset"
    assert DetectionSettings(masks="0,0 1,0 1,1").masks == (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0)),)  # type: ignore[arg-type]


def test_every_option_is_documented():
    for field in dataclasses.fields(DetectionSettings):
        assert field.metadata["doc"], field.name


def test_masks_hiding_almost_the_whole_picture_are_refused():
    # Detection would silently stop: almost always a polygon drawn around the wrong area.
    with pytest.raises(SettingsError) as error:
        load_section(DetectionSettings, {"masks": "0,0 1,0 1,1 0,1"})
    assert error.value.option == "masks" and "visible" in str(error.value)


def test_an_infinite_time_window_is_refused():
    with pytest.raises(SettingsError) as error:
        load_section(DetectionSettings, {"consider_time": "inf"})
    assert error.value.option == "consider_time"
