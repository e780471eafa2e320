"""Meshes made convex: polyhedra are cut exactly along their own face planes, curved solids
fall back to CoACD. The solids are real build123d shapes, tessellated as the worker does."""

from __future__ import annotations

import numpy as np
from build123d import Box, Cylinder, Pos
from hypothesis import given, settings
from hypothesis import strategies as st

from benchgen_dagster.validation.geometry import (
    MM,
    piece_from_stl,
    planar_split,
    signed_volume,
    stl_triangles,
    weld,
)
from benchgen_dagster.validation.scoring import stl_solids


def mesh_of(shape) -> tuple[np.ndarray, np.ndarray, float]:  # type: ignore[no-untyped-def]
    [stl] = stl_solids(shape)
    vertices, faces = weld(stl_triangles(stl) * MM)
    return vertices, faces, signed_volume(vertices, faces)


def hull_volume(hull) -> float:  # type: ignore[no-untyped-def]
    return abs(signed_volume(hull.vertices, hull.faces))


def assert_exact(hulls, volume: float, count: int) -> None:  # type: ignore[no-untyped-def]
    assert hulls is not None and len(hulls) == count
    assert np.isclose(sum(hull_volume(h) for h in hulls), volume, rtol=1e-4)


@settings(max_examples=15, deadline=None)
@given(
    width=st.floats(20, 120),
    height=st.floats(20, 120),
    y=st.floats(-40, 40),
    z=st.floats(-40, 40),
)
def test_a_wall_with_a_window_splits_into_four_exact_boxes(
    width: float, height: float, y: float, z: float
) -> None:
    wall = Box(20, 300, 300) - Pos(0, y, z) * Box(30, width, height)
    vertices, faces, volume = mesh_of(wall)
    assert_exact(planar_split(vertices, faces, volume), volume, 4)


def test_an_l_shape_and_a_stepped_block_split_exactly() -> None:
    l_shape = Box(100, 40, 20) + Pos(-40, 0, 40) * Box(20, 40, 60)
    vertices, faces, volume = mesh_of(l_shape)
    assert_exact(planar_split(vertices, faces, volume), volume, 2)
    steps = Box(120, 40, 20) + Pos(20, 0, 20) * Box(80, 40, 20) + Pos(40, 0, 40) * Box(40, 40, 20)
    vertices, faces, volume = mesh_of(steps)
    assert_exact(planar_split(vertices, faces, volume), volume, 3)


def test_an_inside_out_mesh_splits_the_same() -> None:
    wall = Box(20, 300, 300) - Box(30, 100, 80)
    vertices, faces, volume = mesh_of(wall)
    outward = planar_split(vertices, faces, volume)
    inward = planar_split(vertices, faces[:, ::-1], volume)
    assert outward and inward and [h.key for h in outward] == [h.key for h in inward]


def test_a_curved_hole_is_left_to_coacd() -> None:
    plate = Box(200, 200, 20) - Cylinder(50, 40)
    vertices, faces, volume = mesh_of(plate)
    assert planar_split(vertices, faces, volume) is None  # too many face planes
    [stl] = stl_solids(plate)
    hulls = piece_from_stl(stl).hulls
    assert len(hulls) > 1  # decomposed approximately, not filled in as one hull
