"""Tests of inpaintkit.structure: vanishing points, planes, rectification, regularity, picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from inpaintkit import structure


def grid_texture(side=512, period=48, thickness=5):
    """White texture with black lines every ``period`` pixels both ways."""
    texture = np.ones((side, side), np.float32)
    for k in range(0, side, period):
        texture[k:k + thickness] = 0.0
        texture[:, k:k + thickness] = 0.0
    return texture


def warp(texture, corners, size):
    src = np.float32([[0, 0], [texture.shape[1], 0], [texture.shape[1], texture.shape[0]],
                      [0, texture.shape[0]]])
    H = cv2.getPerspectiveTransform(src, np.float32(corners))
    image = cv2.warpPerspective(texture, H, (size, size), flags=cv2.INTER_AREA, borderValue=1.0)
    return image, H


def two_plane_scene(size=192):
    """A left wall and a right wall, each a perspective grid; true VPs per wall."""
    texture = grid_texture()
    left, H1 = warp(texture, [[-40, -30], [size // 2, 40], [size // 2, size - 40],
                              [-40, size + 30]], size)
    right, H2 = warp(texture, [[size // 2, 50], [size + 30, -10], [size + 30, size + 10],
                               [size // 2, size - 50]], size)
    image = left.copy()
    image[:, size // 2:] = right[:, size // 2:]
    vps = [H1 @ [1, 0, 0], H2 @ [1, 0, 0], H1 @ [0, 1, 0]]
    return image, [v / np.linalg.norm(v) for v in vps]


def angle_between(p, q, size):
    """Angle between two vanishing points seen from a camera of focal ``size``."""
    K = np.array([[size, 0, size / 2], [0, size, size / 2], [0, 0, 1.0]])
    a, b = np.linalg.solve(K, p), np.linalg.solve(K, q)
    cos = abs(a @ b) / np.linalg.norm(a) / np.linalg.norm(b)
    return np.degrees(np.arccos(min(1.0, cos)))


def test_vanishing_points_of_two_walls():
    image, truth = two_plane_scene()
    found = structure.vanishing_points(image)
    assert 2 <= len(found) <= 3
    for true in truth:
        best = min(angle_between(true, vp.point, image.shape[0]) for vp in found)
        assert best < 2.0
    for vp in found:
        assert vp.point.shape == (3,) and vp.segments.shape[1] == 4 and vp.score > 0


def checker_wall(size=256, period=48):
    """A checkerboard wall turned about the vertical axis: every LSD segment ends at a
    junction of four squares. Returns the image and the true finite VP."""
    side = 1024
    y, x = np.mgrid[:side, :side]
    board = (0.1 + 0.8 * ((x // period + y // period) % 2)).astype(np.float32)
    corners = [[-20, -40], [size - 10, 50], [size - 10, size - 50], [-20, size + 40]]
    image, H = warp(board, corners, size)
    return image, H @ [1, 0, 0]


def test_far_vanishing_point_of_a_checkerboard_is_unbiased():
    # LSD's own angles are skewed by the junctions at each segment's ends (0.4
    # degrees, which moved this far VP by 2-3 degrees before segments were
    # re-fitted to their edge points).
    image, truth = checker_wall()
    found = structure.vanishing_points(image)
    best = min(angle_between(truth, vp.point, image.shape[0]) for vp in found)
    assert best < 1.0


def test_refit_recovers_the_angle_of_an_edge():
    # A dark half-plane below a line of known slope, anti-aliased by supersampling.
    big = 8 * 96
    y, x = np.mgrid[:big, :big].astype(np.float64)
    slope = np.tan(np.radians(7.0))
    edge = ((y - (0.3 * big + slope * x)) > 0).astype(np.float32)
    image = cv2.resize(edge, (96, 96), interpolation=cv2.INTER_AREA)
    gray = np.rint(255 * (0.2 + 0.6 * image)).astype(np.uint8)
    # A deliberately skewed segment along the edge: 1 degree off, 0.5 px off.
    x1, x2 = 20.0, 76.0
    y1 = 0.3 * 96 + slope * x1 - 0.5 - 0.5
    y2 = 0.3 * 96 + slope * x2 - 0.5 - 0.5 + np.tan(np.radians(1.0)) * (x2 - x1)
    fitted = structure._refit_segments(gray, np.array([[x1, y1, x2, y2]]))[0]
    angle = np.degrees(np.arctan2(fitted[3] - fitted[1], fitted[2] - fitted[0]))
    assert abs(angle - 7.0) < 0.1
    # The refitted line passes through the true edge (pixel centres at integers).
    mid_x = 0.5 * (fitted[0] + fitted[2])
    mid_y = 0.5 * (fitted[1] + fitted[3])
    assert abs(mid_y - (0.3 * 96 + slope * (mid_x + 0.5) - 0.5)) < 0.15


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float64])
def test_vanishing_points_dtypes_and_rgb(dtype):
    image, _ = two_plane_scene(128)
    if dtype != np.float64:
        image = np.rint(image * np.iinfo(dtype).max).astype(dtype)
    rgb = np.stack([image] * 3, axis=2)
    assert len(structure.vanishing_points(rgb)) >= 2


def test_hole_border_segments_are_ignored():
    image = np.full((128, 128), 0.5)
    for k in range(10):
        image[20 + 9 * k: 24 + 9 * k, 30:100] = 0.0  # parallel bars
    mask = np.zeros((128, 128), bool)
    mask[16:114, 26:104] = True  # covers every bar
    assert len(structure.vanishing_points(image)) >= 1
    assert structure.vanishing_points(image, mask=mask) == []


def test_rectification_makes_parallel_lines_parallel():
    texture = grid_texture()
    image, _ = warp(texture, [[20, 10], [180, 40], [170, 160], [30, 190]], 192)
    planes = structure.detect_planes(image)
    assert len(planes.planes) >= 2  # the wall (and stray pairs) and the fronto-parallel plane
    plane = planes.planes[int(np.argmax(planes.posterior[..., :-1].sum(axis=(0, 1))))]
    assert np.allclose(plane.homography[:2], [[1, 0, 0], [0, 1, 0]])
    for index in plane.vps:
        segments = planes.vanishing_points[index].segments
        a = structure.rectify_points(plane, segments[:, :2])
        b = structure.rectify_points(plane, segments[:, 2:])
        d = b - a
        angles = np.degrees(np.arctan2(d[:, 1], d[:, 0])) % 180.0
        spread = np.abs((angles - np.median(angles) + 90.0) % 180.0 - 90.0)
        weights = np.hypot(d[:, 0], d[:, 1])
        assert np.average(spread, weights=weights) < 1.0
        # The plane's rectified direction of this family agrees with the segments.
        direction = plane.directions[list(plane.vps).index(index)]
        along = np.degrees(np.arctan2(direction[1], direction[0])) % 180.0
        assert abs((along - np.median(angles) + 90.0) % 180.0 - 90.0) < 1.5


def test_posterior_is_a_distribution_and_fills_the_hole():
    image, _ = two_plane_scene(128)
    mask = np.zeros((128, 128), bool)
    mask[40:80, 20:50] = True
    planes = structure.detect_planes(image, mask)
    post = planes.posterior
    assert post.shape == (128, 128, len(planes.planes))
    assert np.all(np.isfinite(post)) and np.all(post >= 0)
    assert np.allclose(post.sum(axis=2), 1.0, atol=1e-5)
    # The left wall's plane dominates the hole on the left half.
    left_plane = np.argmax(post[60, 10])
    assert np.argmax(post[60, 35]) == left_plane


def test_no_lines_gives_only_the_fronto_parallel_plane():
    rng = np.random.default_rng(0)
    image = cv2.GaussianBlur(rng.random((96, 96)), (0, 0), 3)
    planes = structure.detect_planes(image)
    assert len(planes.planes) == 1 and planes.planes[0].vps == ()
    assert np.allclose(planes.posterior, 1.0)


def test_regularity_of_a_grid_is_its_period():
    y, x = np.mgrid[:160, :160]
    image = (((x // 16) + (y // 16)) % 2).astype(np.float64) * 0.8 + 0.1
    mask = np.zeros((160, 160), bool)
    mask[60:100, 60:100] = True
    planes = structure.detect_planes(image, mask)
    vectors = structure.plane_regularity(image, mask, planes)
    assert planes.regularity is vectors
    # The image is fronto-parallel: every plane's frame is the image's. The checker's
    # translational symmetries are the lattice of (16, 16) and (16, -16).
    found = np.concatenate([v for v in vectors if len(v)])
    assert len(found) >= 4
    steps = found / 16.0
    assert np.allclose(steps, np.rint(steps), atol=1.0 / 16.0)
    assert np.all(np.rint(steps).sum(axis=1) % 2 == 0)
    shortest = found[np.hypot(found[:, 0], found[:, 1]) <= 33.0]
    assert np.linalg.matrix_rank(shortest, tol=1.0) == 2  # two independent periods


def test_mean_shift_reference():
    rng = np.random.default_rng(1)
    centres = np.array([[40.0, 0.0], [0.0, 40.0], [-40.0, 0.0]])
    points = np.concatenate([c + rng.normal(0, 2, (20, 2)) for c in centres]
                            + [rng.uniform(-100, 100, (4, 2))])
    modes = structure._mean_shift(points, 20.0, 5)
    assert len(modes) == 3
    for c in centres:
        assert np.min(np.hypot(*(modes - c).T)) < 1.0


def test_mean_shift_in_row_blocks_equals_one_table(monkeypatch):
    # The centre-by-vote table is built a block of rows at a time (memory); blocks of
    # any height give the modes of the whole table, to the last bit.
    rng = np.random.default_rng(2)
    lattice = np.array([[32.0, 0.0], [0.0, 24.0], [32.0, 24.0], [-32.0, 24.0]])
    votes = np.concatenate([np.concatenate([c, -c]) + rng.normal(0, 1.5, (2 * len(c), 2))
                            for c in np.repeat(lattice, 40, axis=0).reshape(4, 40, 2)]
                           + [rng.uniform(-120, 120, (300, 2))])
    monkeypatch.setattr(structure, "_MEAN_SHIFT_ROWS", 10 ** 9)
    whole = structure._mean_shift(votes, 20.0, 5)
    assert len(whole) >= 4
    for rows in (1, 7, 64):
        monkeypatch.setattr(structure, "_MEAN_SHIFT_ROWS", rows)
        assert np.array_equal(structure._mean_shift(votes, 20.0, 5), whole)


def test_render_planes_picture():
    image, _ = two_plane_scene(128)
    mask = np.zeros((128, 128), bool)
    mask[50:80, 50:80] = True
    planes = structure.detect_planes(image, mask)
    structure.plane_regularity(image, mask, planes)
    picture = structure.render_planes(image, planes, mask)
    assert picture.shape == (128, 384, 3) and picture.dtype == np.uint8
    # Segments are drawn in colour on a gray image.
    assert np.any(np.ptp(picture[:, :128].astype(int), axis=2) > 60)


def test_bad_parameters():
    image = np.zeros((32, 32))
    with pytest.raises(ValueError, match="max_vps"):
        structure.vanishing_points(image, max_vps=0)
    with pytest.raises(ValueError, match="min_length"):
        structure.vanishing_points(image, min_length=-1.0)
    with pytest.raises(TypeError, match="dtype"):
        structure.vanishing_points(np.zeros((32, 32), np.int32))
    with pytest.raises(ValueError, match="density_sigma"):
        structure.detect_planes(image, density_sigma=0)


def corridor_scene(size=160):
    """Two walls of a corridor (perspective grids) left and right of a gray gap: their
    planes share a vanishing line (the vertical through the far point)."""
    texture = grid_texture(256, period=24, thickness=3)
    left, _ = warp(texture, [[0, -30], [size * 0.42, size * 0.38], [size * 0.42, size * 0.62],
                             [0, size + 30]], size)
    right, _ = warp(texture, [[size * 0.58, size * 0.38], [size, -30], [size, size + 30],
                              [size * 0.58, size * 0.62]], size)
    image = np.full((size, size), 0.5, np.float32)
    image[:, :int(size * 0.42)] = left[:, :int(size * 0.42)]
    image[:, int(size * 0.58):] = right[:, int(size * 0.58):]
    return image


def test_split_gives_each_side_of_a_vanishing_line_its_plane():
    image = corridor_scene()
    vps = structure.vanishing_points(image)
    whole = structure.detect_planes(image, vanishing=vps)
    split = structure.detect_planes(image, vanishing=vps, split=True)
    assert len(split.planes) > len(whole.planes)
    pairs = [p.vps for p in split.planes[:-1]]
    twice = [pair for pair in set(pairs) if pairs.count(pair) == 2]
    assert twice
    size = image.shape[0]
    ys, xs = np.mgrid[:size, :size]
    for pair in twice:
        first, second = (k for k, p in enumerate(split.planes) if p.vps == pair)
        a, b = split.planes[first].line, split.planes[second].line
        assert np.allclose(np.cross(a, b), 0.0, atol=1e-9 * np.abs(a).max() * np.abs(b).max())
        # Opposite sides: where one plane is in front of its line, the other is not.
        wa = a[0] * xs + a[1] * ys + a[2]
        wb = b[0] * xs + b[1] * ys + b[2]
        assert not np.any((wa > 0.05) & (wb > 0.05))
        assert split.posterior[..., first][wa <= 0].max() == 0.0
    with pytest.raises(TypeError, match="split"):
        structure.detect_planes(image, vanishing=vps, split="yes")
