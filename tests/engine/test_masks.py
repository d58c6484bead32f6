"""Mask polygons: inside tests and the masked area measured on the grid."""

import pytest

from pinozcam_klipper.engine import GRID_SIZE, masked_fraction, parse_masks, point_in_polygon
from pinozcam_klipper.engine.masks import mask_grid

SQUARE = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
# An L shape: concave, so a convex-only test would be wrong inside the notch.
ELL = ((0.0, 0.0), (0.5, 0.0), (0.5, 0.2), (0.2, 0.2), (0.2, 0.5), (0.0, 0.5))


def test_point_in_polygon_inside_outside_and_in_a_notch():
    assert point_in_polygon(0.4, 0.4, SQUARE)
    assert not point_in_polygon(0.7, 0.4, SQUARE)
    assert point_in_polygon(0.1, 0.4, ELL)
    assert not point_in_polygon(0.4, 0.4, ELL)  # in the notch


@pytest.mark.parametrize(("polygon", "area"), [
    (SQUARE, 0.16),
    (ELL, 0.5 * 0.2 + 0.2 * 0.3),
    (((0.0, 0.0), (1.0, 0.0), (0.0, 1.0)), 0.5),
    (((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)), 1.0),
])
def test_masked_fraction_is_the_polygon_area_within_the_grid_step(polygon, area):
    perimeter_cells = 4 * GRID_SIZE  # an edge misplaces at most one row of cells
    assert masked_fraction((polygon,)) == pytest.approx(area, abs=perimeter_cells / GRID_SIZE ** 2)


def test_overlapping_masks_count_once():
    assert masked_fraction((SQUARE, SQUARE)) == masked_fraction((SQUARE,))


def test_no_masks_hide_nothing():
    assert masked_fraction(()) == 0.0
    assert mask_grid(()) is None


def test_grid_agrees_with_point_in_polygon_at_cell_centres():
    grid = mask_grid((ELL,))
    assert grid is not None
    step = 1.0 / GRID_SIZE
    for i in range(0, GRID_SIZE, 7):
        for j in range(0, GRID_SIZE, 7):
            inside = point_in_polygon((j + 0.5) * step, (i + 0.5) * step, ELL)
            cell = grid.masked_area(j * step, i * step, (j + 1) * step, (i + 1) * step)
            assert cell == pytest.approx(step * step if inside else 0.0, abs=1e-12)


def test_masked_area_of_a_partly_covered_rectangle():
    grid = mask_grid((((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0)),))
    assert grid is not None
    # A rectangle straddling the mask's edge: half of it is hidden.
    assert grid.masked_area(0.25, 0.1, 0.75, 0.3) == pytest.approx(0.25 * 0.2)
    # Fractions of a cell count pro rata.
    assert grid.masked_area(0.1, 0.1, 0.1 + 0.001, 0.1 + 0.001) == pytest.approx(1e-6)


def test_parse_masks_keeps_polygons_in_order():
    masks = parse_masks([[[0, 0], [0.5, 0], [0.5, 0.5]], ((0.6, 0.6), (1, 0.6), (1, 1))])
    assert masks[0][1] == (0.5, 0.0)
    assert masks[1][0] == (0.6, 0.6)
