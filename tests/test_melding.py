"""Tests of patchmatch's Image Melding options (similarity search, gain/bias, gradients).

The kernels are compared with plain NumPy references on small inputs; the search is
checked to recover a known similarity and a known gain/bias; the screened Poisson
vote is checked against a dense least-squares solve; the public options get the
image contract, determinism and clear errors, and the defaults must not reach the
melding code path at all.
"""

from __future__ import annotations

import numba
import numpy as np
import pytest
from scipy import ndimage

from inpaintkit.algorithms import _melding_kernels as K
from inpaintkit.algorithms import melding as M
from inpaintkit.algorithms.diffusion import poisson_fill
from inpaintkit.algorithms.patchmatch import inpaint_patchmatch


# ----------------------------------------------------------------- NumPy references


def ref_matrix(angle, scale, flip):
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return scale * rot @ np.diag([1.0, flip])


def ref_samples(features, centre, A, r, grad):
    """Bilinear samples of the warped patch (side^2, C), gradients mapped by A^T."""
    u = np.arange(-r, r + 1)
    dy, dx = np.meshgrid(u, u, indexing="ij")
    py = centre[0] + A[0, 0] * dy + A[0, 1] * dx
    px = centre[1] + A[1, 0] * dy + A[1, 1] * dx
    out = np.stack([ndimage.map_coordinates(features[..., c], [py, px], order=1)
                    for c in range(features.shape[2])], axis=-1).reshape(-1, features.shape[2])
    if grad >= 0:
        out[:, grad:grad + 2] = out[:, grad:grad + 2] @ A
    return out


def ref_cost(features, t, samples, r, n_colour, grad, params):
    """Distance with closed-form clipped gain/bias; returns (cost, gain, bias)."""
    target = features[t[0] - r:t[0] + r + 1, t[1] - r:t[1] + r + 1].reshape(-1, features.shape[2])
    gain = np.ones(n_colour)
    bias = np.zeros(n_colour)
    if params[K.P_GAIN_BIAS]:
        sd_s = samples[:, :n_colour].std(axis=0)
        gain = np.clip(target[:, :n_colour].std(axis=0) / sd_s, params[K.P_GAIN_MIN],
                       params[K.P_GAIN_MAX])
        bias = np.clip(target[:, :n_colour].mean(axis=0)
                       - gain * samples[:, :n_colour].mean(axis=0),
                       -params[K.P_BIAS_MAX], params[K.P_BIAS_MAX])
    corrected = samples.copy()
    corrected[:, :n_colour] = gain * samples[:, :n_colour] + bias
    if grad >= 0:
        corrected[:, grad:grad + 2] *= gain[0]
    return ((target - corrected) ** 2).sum(axis=1).mean(), gain, bias


def ref_vote(features, pos, xform, gains, biases, weight, best, active, hole, diff_mask, r,
             n_colour, n_out):
    height, width = hole.shape
    out = features[:, :, :n_out].copy()
    diffs = np.zeros((height, width, 2 * n_colour))

    def sample(c, y, x):
        return ndimage.map_coordinates(features[..., c], [[np.clip(y, 0, height - 1)],
                                                          [np.clip(x, 0, width - 1)]], order=1)[0]

    for y in range(height):
        for x in range(width):
            if not (hole[y, x] or diff_mask[y, x]):
                continue
            views = []
            for qy in range(max(0, y - r), min(height, y + r + 1)):
                for qx in range(max(0, x - r), min(width, x + r + 1)):
                    if not active[qy, qx] or (not best and weight[qy, qx] <= 0):
                        continue
                    A = ref_matrix(*xform[qy, qx])
                    p = pos[qy, qx] + A @ [y - qy, x - qx]
                    value = np.array([sample(c, *p) for c in range(n_out)])
                    down = np.array([sample(c, *(p + A[:, 0])) for c in range(n_colour)])
                    right = np.array([sample(c, *(p + A[:, 1])) for c in range(n_colour)])
                    g = gains[qy, qx, :n_colour]
                    value[:n_colour] = g * value[:n_colour] + biases[qy, qx, :n_colour]
                    raw = (value[:n_colour] - biases[qy, qx, :n_colour]) / g
                    d = np.concatenate([g * (down - raw), g * (right - raw)])
                    views.append((weight[qy, qx], value, d))
            if best:
                w, value, d = min(views, key=lambda v: v[0])
            else:
                w = np.array([v[0] for v in views])
                value = (w[:, None] * np.array([v[1] for v in views])).sum(0) / w.sum()
                d = (w[:, None] * np.array([v[2] for v in views])).sum(0) / w.sum()
            if hole[y, x]:
                out[y, x] = value
            if diff_mask[y, x]:
                diffs[y, x] = d
    return out, diffs


def smooth_noise(shape, sigma, seed):
    rng = np.random.default_rng(seed)
    noise = rng.random(shape)
    if len(shape) == 3:
        return np.stack([ndimage.gaussian_filter(noise[..., c], sigma)
                         for c in range(shape[2])], axis=-1)
    return ndimage.gaussian_filter(noise, sigma)


def params_for(similarity=True, gain_bias=False):
    return M._params("similarity" if similarity else "none", gain_bias)


# ------------------------------------------------------------ kernel vs reference


@pytest.mark.parametrize("angle,scale,flip,gain_bias,grad", [
    (0.0, 1.0, 1.0, False, -1),
    (0.4, 1.1, 1.0, True, 3),
    (-0.7, 0.95, -1.0, True, -1),
    (0.2, 0.9, -1.0, False, 3),
])
def test_evaluate_matches_reference(angle, scale, flip, gain_bias, grad):
    rng = np.random.default_rng(1)
    features = rng.random((30, 30, 5))
    r = 2
    params = params_for(True, gain_bias)
    params[K.P_GAIN_MIN], params[K.P_GAIN_MAX] = 0.5, 2.0  # so the clip is rarely active
    t, centre = (8, 21), (14.3, 12.6)
    samples = np.empty(((2 * r + 1) ** 2, 5))
    gain, bias = np.ones(3), np.zeros(3)
    d = K.evaluate(features, np.ones((30, 30), bool), r, 3, grad, params, t[0], t[1], centre[0],
                   centre[1], angle, scale, flip, samples, gain, bias, np.inf)
    A = ref_matrix(angle, scale, flip)
    expected_samples = ref_samples(features, centre, A, r, grad)
    np.testing.assert_allclose(samples, expected_samples, atol=1e-9)
    expected, expected_gain, expected_bias = ref_cost(features, t, expected_samples, r, 3, grad,
                                                      params)
    # Transformed candidates pay 1 + k (|angle| / max + |log scale| / max + mirrored).
    deviation = (abs(angle) / params[K.P_ANGLE_MAX]
                 + abs(np.log(scale)) / max(np.log(params[K.P_SCALE_MAX]),
                                            -np.log(params[K.P_SCALE_MIN]))
                 + (flip < 0))
    assert params[K.P_PENALTY] > 0
    assert d == pytest.approx(expected * (1 + params[K.P_PENALTY] * deviation), rel=1e-9)
    np.testing.assert_allclose(gain, expected_gain, atol=1e-9)
    np.testing.assert_allclose(bias, expected_bias, atol=1e-9)
    # Out of range or touching an invalid pixel: +inf.
    valid = np.ones((30, 30), bool)
    valid[14, 12] = False
    assert K.evaluate(features, valid, r, 3, grad, params, t[0], t[1], centre[0], centre[1],
                      angle, scale, flip, samples, gain, bias, np.inf) == np.inf
    assert K.evaluate(features, np.ones((30, 30), bool), r, 3, grad, params, t[0], t[1],
                      centre[0], centre[1], 1.0, scale, flip, samples, gain, bias, np.inf) == np.inf
    assert K.evaluate(features, np.ones((30, 30), bool), r, 3, grad, params, t[0], t[1],
                      centre[0], centre[1], angle, 1.3, flip, samples, gain, bias, np.inf) == np.inf


def test_integer_sample_next_to_the_hole_is_valid():
    """A plain copy reads no pixel beside its patch, so it may border the hole."""
    features = np.random.default_rng(0).random((12, 12, 1))
    valid = np.ones((12, 12), bool)
    valid[:, 7] = False  # just right of the patch centred at column 5 (r = 1)
    samples = np.empty((9, 1))
    args = (np.ones(1), np.zeros(1), np.inf)
    assert np.isfinite(K.evaluate(features, valid, 1, 1, -1, params_for(), 5, 5, 5.0, 5.0, 0.0,
                                  1.0, 1.0, samples, *args))
    assert K.evaluate(features, valid, 1, 1, -1, params_for(), 5, 5, 5.0, 5.5, 0.0, 1.0, 1.0,
                      samples, *args) == np.inf


@pytest.mark.parametrize("best", [False, True])
def test_vote_matches_reference(best):
    rng = np.random.default_rng(2)
    height, width, r, n_colour, n_out = 14, 15, 1, 2, 3
    features = rng.random((height, width, 4))
    hole = np.zeros((height, width), bool)
    hole[5:9, 6:10] = True
    active = ndimage.binary_dilation(hole, np.ones((3, 3), bool))
    diff_mask = M._diff_mask(hole)
    pos = np.stack([rng.uniform(3, 10, (height, width)), rng.uniform(3, 11, (height, width))], -1)
    xform = np.stack([rng.uniform(-0.7, 0.7, (height, width)),
                      rng.uniform(0.9, 1.2, (height, width)),
                      rng.choice([-1.0, 1.0], (height, width))], -1)
    gains = rng.uniform(0.9, 1.1, (height, width, n_colour))
    biases = rng.uniform(-0.1, 0.1, (height, width, n_colour))
    weight = rng.random((height, width))
    out = features[:, :, :n_out].copy()
    diffs = np.zeros((height, width, 2 * n_colour))
    K.vote(features, pos, xform, gains, biases, weight, best, active, hole, diff_mask, r,
           n_colour, n_out, out, diffs, 0, 1)
    expected, expected_diffs = ref_vote(features, pos, xform, gains, biases, weight, best, active,
                                        hole, diff_mask, r, n_colour, n_out)
    np.testing.assert_allclose(out, expected, atol=1e-9)
    np.testing.assert_allclose(diffs, expected_diffs, atol=1e-9)


def test_screened_poisson_vote_is_the_least_squares_fill():
    """divergence_source + poisson_fill(screening) minimise
    sum over edges touching the hole of (u_q - u_p - g)^2 + s sum_hole (u - c)^2."""
    rng = np.random.default_rng(4)
    height, width, s = 7, 8, 0.3
    data = rng.random((height, width, 1))
    hole = np.zeros((height, width), bool)
    hole[2:5, 1:5] = True
    hole[0, 6] = True  # at the border
    anchor = rng.random((height, width, 1))
    diffs = rng.normal(0, 0.2, (height, width, 2))
    solved = data.copy()
    poisson_fill(solved, hole, M.divergence_source(diffs, 1), screening=s, anchor=anchor)
    # Dense least squares over the hole pixels.
    index = -np.ones((height, width), int)
    index[hole] = np.arange(hole.sum())
    rows, rhs = [], []
    for y in range(height):
        for x in range(width):
            for dy, dx, ch in ((1, 0, 0), (0, 1, 1)):
                qy, qx = y + dy, x + dx
                if qy >= height or qx >= width or not (hole[y, x] or hole[qy, qx]):
                    continue
                row = np.zeros(hole.sum())
                b = diffs[y, x, ch]
                if hole[qy, qx]:
                    row[index[qy, qx]] += 1
                else:
                    b -= data[qy, qx, 0]
                if hole[y, x]:
                    row[index[y, x]] -= 1
                else:
                    b += data[y, x, 0]
                rows.append(row)
                rhs.append(b)
    for y, x in zip(*np.nonzero(hole)):
        row = np.zeros(hole.sum())
        row[index[y, x]] = np.sqrt(s)
        rows.append(row)
        rhs.append(np.sqrt(s) * anchor[y, x, 0])
    expected = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    np.testing.assert_allclose(solved[hole][:, 0], expected, atol=1e-9)
    np.testing.assert_array_equal(solved[~hole], data[~hole])


# --------------------------------------------------------------- search recovers


def _warped_pair(angle, scale, flip, size=72):
    """Left half: a smooth random texture; right half: the texture under a known
    similarity around the halves' centres. Returns (features, valid, active, truth)
    where truth(y, x) is the source point of target pixel (y, x)."""
    texture = smooth_noise((size, size, 3), 1.5, 0)
    texture = (texture - texture.mean()) / texture.std() * 0.15 + 0.5
    A = ref_matrix(angle, scale, flip)
    c_s = np.array([size / 2, size / 2])
    c_t = np.array([size / 2, size + size / 2])
    yy, xx = np.mgrid[:size, size:2 * size].astype(float)
    src = c_s[:, None, None] + np.tensordot(A, np.stack([yy - c_t[0], xx - c_t[1]]), axes=1)
    right = np.stack([ndimage.map_coordinates(texture[..., c], src, order=1)
                      for c in range(3)], axis=-1)
    features = np.ascontiguousarray(np.concatenate([texture, right], axis=1))
    valid = np.zeros((size, 2 * size), bool)
    valid[:, :size] = True
    active = np.zeros((size, 2 * size), bool)
    yy, xx = np.mgrid[:size, :2 * size]
    active[(yy - c_t[0]) ** 2 + (xx - c_t[1]) ** 2 < 12 ** 2] = True
    return features, valid, active, lambda y, x: c_s + A @ ([y, x] - c_t)


def _search(features, valid, active, params, r=3, iterations=6, seed=0, grad=-1):
    search = M.MeldingSearch(valid, M._source_ok(valid, r), active, r, 3, grad, params)
    search.features = features
    pos, xform, dist, _, _ = search.start(None, None, seed)
    search.iterate(pos, xform, dist, iterations, seed + 1)
    return search.start(pos, xform, 0)


@pytest.mark.parametrize("angle,scale,flip", [(np.radians(30), 1.1, 1.0),
                                              (np.radians(-20), 0.95, -1.0)])
def test_similarity_search_finds_the_transform(angle, scale, flip):
    features, valid, active, truth = _warped_pair(angle, scale, flip)
    pos, xform, dist, _, _ = _search(features, valid, active, params_for(True))
    ys, xs = np.nonzero(active)
    err = np.array([np.hypot(*(pos[y, x] - truth(y, x))) for y, x in zip(ys, xs)])
    found = ((np.abs(xform[ys, xs, 0] - angle) < np.radians(4))
             & (np.abs(xform[ys, xs, 1] - scale) < 0.05) & (xform[ys, xs, 2] == flip)
             & (err < 1.0))
    assert found.mean() > 0.8, found.mean()
    # Translations alone cannot match the warped copy nearly as well.
    plain = _search(features, valid, active, params_for(False))
    assert np.all(plain[1][active] == [0.0, 1.0, 1.0])
    assert np.median(plain[2][active]) > 5 * np.median(dist[active])


def test_gain_bias_search_matches_a_shifted_copy():
    size = 64
    texture = 0.5 + 0.15 * smooth_noise((size, size, 3), 1.5, 3) / 0.3
    gain, bias = np.array([1.06, 0.95, 1.0]), np.array([0.05, -0.03, 0.02])
    right = gain * np.roll(texture, (5, -7), axis=(0, 1)) + bias
    features = np.ascontiguousarray(np.concatenate([texture, right], axis=1))
    valid = np.zeros((size, 2 * size), bool)
    valid[:, :size] = True
    active = np.zeros_like(valid)
    active[20:44, size + 20:size + 44] = True
    pos, xform, dist, gains, biases = _search(features, valid, active, params_for(False, True))
    ys, xs = np.nonzero(active)
    right_place = ((pos[ys, xs, 0] == ys - 5) & (pos[ys, xs, 1] == xs - size + 7))
    assert right_place.mean() > 0.95
    np.testing.assert_allclose(np.median(gains[active], axis=0), gain, atol=0.01)
    np.testing.assert_allclose(np.median(biases[active], axis=0), bias, atol=0.01)
    assert np.median(dist[active]) < 1e-4
    # Without gain and bias the same copy costs far more.
    plain = _search(features, valid, active, params_for(False, False))
    assert np.median(plain[2][active]) > 20 * np.median(dist[active]) + 1e-4


def test_search_independent_of_thread_count():
    features, valid, active, _ = _warped_pair(0.3, 1.0, 1.0, size=48)
    before = numba.get_num_threads()
    results = []
    try:
        for count in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
            numba.set_num_threads(count)
            search = M.MeldingSearch(valid, M._source_ok(valid, 2), active, 2, 3, -1,
                                     params_for(True))
            search.iterate_parallel = True
            search.features = features
            pos, xform, dist, _, _ = search.start(None, None, 5)
            search.iterate(pos, xform, dist, 3, 6)
            results.append((pos, xform, dist))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(*results):
        np.testing.assert_array_equal(a, b)


# ------------------------------------------------------------------ public options


def _photo(size=40, channels=3):
    """A periodic colour pattern with some grain, in [0, 1]: patches can restore it."""
    yy, xx = np.mgrid[:size, :size].astype(float)
    image = np.stack([0.5 + 0.35 * np.sin(xx / 2.0 + c) * np.cos(yy / 3.0 - c)
                      for c in range(channels)], axis=-1)
    return np.clip(image + 0.05 * smooth_noise((size, size, channels), 1.0, 7), 0, 1)


OPTION_SETS = [dict(transforms="similarity"), dict(gain_bias=True), dict(gradient_weight=1.0),
               dict(transforms="similarity", gain_bias=True, gradient_weight=2.0,
                    final_vote="mean")]


@pytest.mark.parametrize("options", OPTION_SETS)
@pytest.mark.parametrize("dtype,channels", [(np.uint8, 3), (np.float32, 1), (np.uint16, 4)])
def test_contract_with_options(options, dtype, channels):
    image = _photo(40, channels)
    image = (image * np.iinfo(dtype).max).astype(dtype) if dtype != np.float32 else \
        image.astype(dtype)
    if channels == 1:
        image = image[:, :, 0]
    mask = np.zeros((40, 40), bool)
    mask[12:24, 15:27] = True
    mask[0:4, 30:40] = True  # at the border
    out = inpaint_patchmatch(image, mask, patch_size=5, seed=3, **options)
    assert out.shape == image.shape and out.dtype == image.dtype
    np.testing.assert_array_equal(out[~mask], image[~mask])
    again = inpaint_patchmatch(image, mask, patch_size=5, seed=3, **options)
    np.testing.assert_array_equal(out, again)
    # The fill continues the photo: closer than the known pixels' mean colour.
    values = image.astype(np.float64).reshape(40, 40, -1)
    truth = values[mask]
    err = np.abs(out.astype(np.float64).reshape(40, 40, -1)[mask] - truth).mean()
    assert err < 0.7 * np.abs(truth - values[~mask].mean(axis=0)).mean()


def test_defaults_never_reach_the_melding_path(monkeypatch):
    image = (_photo(40) * 255).astype(np.uint8)
    mask = np.zeros((40, 40), bool)
    mask[10:22, 12:26] = True
    plain = inpaint_patchmatch(image, mask, patch_size=5)

    def refuse(*args, **kwargs):
        raise AssertionError("melding path used with default options")

    monkeypatch.setattr(M, "fill_melding", refuse)
    explicit = inpaint_patchmatch(image, mask, patch_size=5, transforms="none", gain_bias=False,
                                  gradient_weight=0.0)
    np.testing.assert_array_equal(plain, explicit)
    with pytest.raises(AssertionError, match="melding path"):
        inpaint_patchmatch(image, mask, patch_size=5, gain_bias=True)


def test_similarity_fill_restores_a_rotated_copy():
    """The hole lies in a rotated copy of a texture shown unrotated elsewhere:
    the similarity search fills it closer to the truth than translations."""
    size = 72
    features, _, _, _ = _warped_pair(np.radians(35), 1.0, 1.0, size)
    image = np.clip(features, 0, 1).astype(np.float32)
    mask = np.zeros(image.shape[:2], bool)
    mask[28:44, size + 28:size + 44] = True
    truth = image[mask]
    plain = inpaint_patchmatch(image, mask, patch_size=7, seed=0)
    rotated = inpaint_patchmatch(image, mask, patch_size=7, seed=0, transforms="similarity")
    err_plain = np.abs(plain[mask] - truth).mean()
    err_rotated = np.abs(rotated[mask] - truth).mean()
    assert err_rotated < err_plain


@pytest.mark.parametrize("options,error,match", [
    (dict(transforms="affine"), ValueError, "transforms must be one of"),
    (dict(transforms=None), ValueError, "transforms must be one of"),
    (dict(gain_bias=1), TypeError, "gain_bias must be True or False"),
    (dict(gain_bias="yes"), TypeError, "gain_bias must be True or False"),
    (dict(gradient_weight=-1.0), ValueError, "gradient_weight must be a finite number >= 0"),
    (dict(gradient_weight=np.nan), ValueError, "gradient_weight must be a finite number >= 0"),
    (dict(gradient_weight=True), ValueError, "gradient_weight must be a finite number >= 0"),
    (dict(gradient_weight="1"), ValueError, "gradient_weight must be a finite number >= 0"),
])
def test_bad_options(options, error, match):
    image = np.zeros((20, 20), np.float32)
    mask = np.zeros((20, 20), bool)
    mask[5:9, 5:9] = True
    with pytest.raises(error, match=match):
        inpaint_patchmatch(image, mask, **options)


def test_screening_needs_an_anchor():
    data = np.zeros((5, 5, 1))
    hole = np.zeros((5, 5), bool)
    hole[2, 2] = True
    with pytest.raises(ValueError, match="anchor"):
        poisson_fill(data, hole, np.zeros((5, 5, 1)), screening=1.0)
