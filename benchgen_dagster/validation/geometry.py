"""Meshes from the sandbox, checked and made ready for MuJoCo.

Lengths come from the sandbox in millimetres. `MM` is the one conversion factor, applied only
where raw data becomes trusted data: here for meshes and in `scene.py` for zones and the
payload; everything after is in metres. MuJoCo collides the convex hulls of meshes, so a
concave piece is split into convex ones with CoACD; pieces are centred and keyed by a content
hash, so identical meshes are stored once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from benchgen_dagster.schema import Reason

log = logging.getLogger(__name__)

MM = 0.001  # metres per millimetre: the one unit conversion
WELD_DECIMALS = 6  # metres; vertices closer than a micrometre are one vertex
CONVEX_RATIO = 0.985  # a piece whose volume is this close to its hull's is treated as convex
MIN_PIECE_VOLUME_M3 = 1e-8  # 10 mm³: below this a piece is a sliver, not a part


class GeometryError(Exception):
    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class ConvexMesh:
    """A convex mesh in metres, centred on `offset`; `key` names its content."""

    vertices: np.ndarray  # (n, 3) float64, relative to offset
    faces: np.ndarray  # (m, 3) int32
    offset: tuple[float, float, float]
    key: str


@dataclass(frozen=True)
class PieceGeometry:
    volume: float  # m³
    bounds_min: tuple[float, float, float]
    bounds_max: tuple[float, float, float]
    hulls: tuple[ConvexMesh, ...]


def stl_triangles(data: bytes) -> np.ndarray:
    """The (n, 3, 3) triangle corners of a binary STL, in the file's units."""
    count = int.from_bytes(data[80:84], "little")
    records = np.frombuffer(
        data,
        dtype=np.dtype([("normal", "<f4", 3), ("v", "<f4", (3, 3)), ("attr", "<u2")]),
        count=count,
        offset=84,
    )
    return records["v"].astype(np.float64)


def piece_from_stl(data: bytes) -> PieceGeometry:
    """Check one solid's mesh (finite, closed, of real volume), convert it to metres and split
    it into convex hulls."""
    triangles = stl_triangles(data)
    if not np.isfinite(triangles).all():
        raise GeometryError(Reason.mesh_invalid, "the mesh has non-finite coordinates")
    if len(triangles) < 4:
        raise GeometryError(Reason.mesh_invalid, f"a solid needs 4 triangles, got {len(triangles)}")
    vertices, faces = weld(triangles * MM)
    open_edges = count_open_edges(faces)
    if open_edges:
        raise GeometryError(Reason.mesh_not_closed, f"the mesh has {open_edges} unmatched edges")
    volume = abs(signed_volume(vertices, faces))
    if volume < MIN_PIECE_VOLUME_M3:
        raise GeometryError(
            Reason.mesh_too_small,
            f"a piece of {volume * 1e9:.2f} mm³ is below {MIN_PIECE_VOLUME_M3 * 1e9:.0f} mm³",
        )
    return PieceGeometry(
        volume=volume,
        bounds_min=tuple(vertices.min(axis=0)),  # type: ignore[arg-type]
        bounds_max=tuple(vertices.max(axis=0)),  # type: ignore[arg-type]
        hulls=convex_pieces(vertices, faces, volume),
    )


def weld(triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge coincident corners into shared vertices and drop degenerate triangles."""
    corners = np.round(triangles.reshape(-1, 3), WELD_DECIMALS)
    vertices, inverse = np.unique(corners, axis=0, return_inverse=True)
    faces = inverse.reshape(-1, 3).astype(np.int32)
    distinct = (
        (faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])
    )
    return vertices, faces[distinct]


def count_open_edges(faces: np.ndarray) -> int:
    """Edges not matched by exactly one opposite edge: zero for a closed, oriented surface."""
    directed = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]])
    forward = {tuple(e) for e in directed.tolist()}
    if len(forward) != len(directed):
        return len(directed) - len(forward)
    return sum(1 for a, b in forward if (b, a) not in forward)


def signed_volume(vertices: np.ndarray, faces: np.ndarray) -> float:
    a, b, c = (vertices[faces[:, k]] for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def convex_pieces(vertices: np.ndarray, faces: np.ndarray, volume: float) -> tuple[ConvexMesh, ...]:
    try:
        hull = ConvexHull(vertices)
    except QhullError as error:
        raise GeometryError(
            Reason.mesh_invalid, f"the mesh is flat or degenerate: {error}"
        ) from None
    if volume >= CONVEX_RATIO * hull.volume:
        return (centred(vertices[hull.vertices], hull_faces(vertices[hull.vertices])),)
    return _decomposed(vertices.tobytes(), faces.tobytes())


@lru_cache(maxsize=512)
def _decomposed(vertex_bytes: bytes, face_bytes: bytes) -> tuple[ConvexMesh, ...]:
    import coacd

    coacd.set_log_level("error")
    vertices = np.frombuffer(vertex_bytes, dtype=np.float64).reshape(-1, 3)
    faces = np.frombuffer(face_bytes, dtype=np.int32).reshape(-1, 3)
    parts = coacd.run_coacd(
        coacd.Mesh(vertices, faces),
        threshold=0.05,
        max_convex_hull=16,
        preprocess_mode="off",
        resolution=500,
        mcts_iterations=50,
        mcts_max_depth=2,
        mcts_nodes=10,
        seed=0,
    )
    return tuple(
        centred(np.asarray(v, dtype=np.float64), np.asarray(f, dtype=np.int32)) for v, f in parts
    )


def hull_faces(points: np.ndarray) -> np.ndarray:
    hull = ConvexHull(points)
    faces = hull.simplices.astype(np.int32)
    # Qhull does not orient its facets; flip those whose normal points inwards.
    centre = points.mean(axis=0)
    a, b, c = (points[faces[:, k]] for k in range(3))
    inward = np.einsum("ij,ij->i", np.cross(b - a, c - a), a - centre) < 0
    faces[inward] = faces[inward][:, ::-1]
    return faces


def centred(vertices: np.ndarray, faces: np.ndarray) -> ConvexMesh:
    offset = np.round((vertices.min(axis=0) + vertices.max(axis=0)) / 2, WELD_DECIMALS)
    local = np.round(vertices - offset, WELD_DECIMALS)
    digest = hashlib.sha256(local.astype("<f8").tobytes() + faces.astype("<i4").tobytes())
    return ConvexMesh(local, faces, tuple(offset.tolist()), digest.hexdigest()[:16])  # type: ignore[arg-type]
