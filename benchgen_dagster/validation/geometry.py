"""Meshes from the sandbox, checked and made ready for MuJoCo.

Lengths come from the sandbox in millimetres. `MM` is the one conversion factor, applied only
where raw data becomes trusted data: here for meshes and in `scene.py` for zones and the
payload; everything after is in metres. MuJoCo collides the convex hulls of meshes, so a
concave piece is split into convex ones: exactly along its own face planes when it is a
polyhedron with few faces (a wall with a window), else approximately with CoACD (curved
surfaces). Pieces are centred and keyed by a content hash, so identical meshes are stored once.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from benchgen_dagster.schema.contract import Reason

log = logging.getLogger(__name__)

MM = 0.001  # metres per millimetre: the one unit conversion
WELD_DECIMALS = 6  # metres; vertices closer than a micrometre are one vertex
CONVEX_RATIO = 0.985  # a piece whose volume is this close to its hull's is treated as convex
MIN_PIECE_VOLUME_M3 = 1e-8  # 10 mm³: below this a piece is a sliver, not a part
MAX_HULLS = 16  # convex pieces of one solid, exact or approximate
MAX_FACE_PLANES = 48  # more distinct face planes than this: a curved surface, not a polyhedron
PLANE_TOLERANCE_M = 1e-5  # points this close to a face plane lie on it (vertices are rounded)


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
    return planar_split(vertices, faces, volume) or _decomposed(vertices.tobytes(), faces.tobytes())


def planar_split(
    vertices: np.ndarray, faces: np.ndarray, volume: float
) -> tuple[ConvexMesh, ...] | None:
    """The exact convex pieces of a polyhedron, cut along its own face planes; None when it
    has too many planes or pieces, or when the pieces' hulls do not add up to its volume.

    A piece is a set of convex polygons, each on one of the solid's face planes. A face plane
    with points of the piece in front of it cuts the piece in two; a piece no plane cuts is
    convex, and its hull is exact (the caps the cuts leave open lie on the cutting planes).
    """
    if signed_volume(vertices, faces) < 0:  # face planes must point outwards
        faces = faces[:, ::-1]
    corners = vertices[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    offsets = np.einsum("ij,ij->i", normals, corners[:, 0])
    planes = np.round(np.column_stack([normals, offsets]), 6) + 0.0  # no -0.0
    planes, plane_of = np.unique(planes, axis=0, return_inverse=True)
    if len(planes) > MAX_FACE_PLANES:
        return None
    pending = [[(corners[k], int(plane_of[k])) for k in range(len(faces))]]
    convex: list[np.ndarray] = []
    while pending:
        piece = pending.pop()
        points = np.concatenate([polygon for polygon, _ in piece])
        own = sorted({plane for _, plane in piece})
        ahead = planes[own, :3] @ points.T - planes[own, 3:]
        cutting = np.flatnonzero(ahead.max(axis=1) > PLANE_TOLERANCE_M)
        if len(cutting) == 0:
            convex.append(points)
        else:
            behind, ahead = _cut(piece, planes, own[cutting[0]])
            if not (behind and ahead):  # no progress: not a well-formed polyhedron
                return None
            pending += [behind, ahead]
        if len(convex) + len(pending) > MAX_HULLS:
            return None
    hulls = [_hull(points) for points in convex]
    hulls = [h for h in hulls if h is not None]
    if not hulls or volume < CONVEX_RATIO * sum(h.volume for h in hulls):
        return None
    return tuple(centred(h.points[h.vertices], hull_faces(h.points[h.vertices])) for h in hulls)


Polygon = tuple[np.ndarray, int]  # corners on one of the solid's face planes, and that plane


def _cut(piece: list[Polygon], planes: np.ndarray, cut: int) -> tuple[list[Polygon], ...]:
    """The piece's polygons behind and in front of plane `cut`."""
    normal, offset = planes[cut, :3], planes[cut, 3]
    behind: list[Polygon] = []
    ahead: list[Polygon] = []
    for polygon, plane in piece:
        side = polygon @ normal - offset
        low, high = side.min(), side.max()
        if max(-low, high) <= PLANE_TOLERANCE_M:  # on the cutting plane itself
            (behind if planes[plane, :3] @ normal > 0 else ahead).append((polygon, plane))
        elif high <= PLANE_TOLERANCE_M:
            behind.append((polygon, plane))
        elif low >= -PLANE_TOLERANCE_M:
            ahead.append((polygon, plane))
        else:
            behind.append((_clip(polygon, side), plane))
            ahead.append((_clip(polygon, -side), plane))
    return behind, ahead


def _clip(polygon: np.ndarray, side: np.ndarray) -> np.ndarray:
    """The part of a convex polygon where `side` ≤ 0 (Sutherland–Hodgman)."""
    kept = []
    for k in range(len(polygon)):
        a, b, sa, sb = polygon[k - 1], polygon[k], side[k - 1], side[k]
        if (sa <= 0) != (sb <= 0):
            kept.append(a + (b - a) * (sa / (sa - sb)))
        if sb <= 0:
            kept.append(b)
    return np.array(kept).reshape(-1, 3)


def _hull(points: np.ndarray) -> ConvexHull | None:
    """The hull of a piece, or None for a sliver flat enough to have no volume."""
    try:
        hull = ConvexHull(np.unique(np.round(points, WELD_DECIMALS), axis=0))
    except QhullError:
        return None
    return hull if hull.volume >= MIN_PIECE_VOLUME_M3 else None


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
