"""Numba kernels for transform-aware PatchMatch: planar candidates, warped patch costs, voting.

Nothing here validates user input; :mod:`inpaintkit.algorithms.planar` and
:func:`inpaintkit.algorithms.patchmatch.patchmatch_nnf_warped` prepare the arrays.

Conventions (coordinates are (row, col) throughout, unlike :mod:`inpaintkit.structure`):

- A plane ``k`` is its vanishing line ``lines[k] = (g_row, g_col, c)``: the affine
  rectification maps p to P = p / w(p), w(p) = g . p + c, and back by
  p = P c / (1 - g . P). The fronto-parallel plane is (0, 0, 1) (identity).
- The field stores, per target patch centre t, a plane ``plane[t]`` and an offset
  ``offset[t]`` in that plane's rectified frame: the source centre is
  s = H^-1(H(t) + offset). Propagating a neighbour's (plane, offset) is then the
  paper's "same rectified displacement" (Huang et al. 2014, sec. 5.2).
- The patch transform is the local affine map A = J_H(s)^-1 J_H(t) (2x2, row-major
  ``(a_rr, a_rc, a_cr, a_cc)``): target pixel t + u is compared with the source
  sample s + A u, read bilinearly. Its area scale is (w(s) / w(t))^3; candidates
  whose linear scale falls outside ``[scale_min, scale_max]`` are rejected. Further
  transforms (a similarity for rotation/scale/reflection, a per-channel gain as in
  Image Melding) slot in by extending the state and multiplying into A in
  :func:`candidate_transform`, and by a gain next to ``bias`` in :func:`warped_cost`.
- Costs (Huang et al. 2014, eq. 5-13): appearance (Gaussian-weighted mean over the
  patch of the L1 difference summed over channels, after a per-channel bias
  compensation clipped to +-bias_max on the first ``n_colour`` channels) +
  lam_plane (-log P(k | t) - log P(k | s)) + lam_direct min(perpendicular offset /
  size, thresh) (the fronto-parallel plane pays thresh) + lam_prox |s - t| / size
  - lam_reg where the offset is a non-zero integer multiple of one of the plane's
  regularity vectors (within ``reg_tol`` rectified pixels): the release's negative
  lambdaReg, which makes copies along the lattice, hence in phase, win.
- ``params`` packs the scalar weights: see the ``_P_*`` indices below.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._patchmatch_kernels import bilinear_cell, bilinear_sample, stream_seed, xorshift32

_P_LAM_PLANE = 0
_P_LAM_DIRECT = 1
_P_DIRECT_THRESH = 2
_P_LAM_PROX = 3
_P_SCALE_MIN = 4
_P_SCALE_MAX = 5
_P_BIAS_MAX = 6
_P_SIZE = 7
_P_LAM_REG = 8
_P_REG_TOL = 9
N_PARAMS = 10

_INV32 = 1.0 / 4294967296.0


@jit
def rectify(lines, k, y, x):
    """(Y, X, w): point (y, x) in plane ``k``'s rectified frame, and w(p)."""
    w = lines[k, 0] * y + lines[k, 1] * x + lines[k, 2]
    return y / w, x / w, w


@jit
def unrectify(lines, k, ry, rx):
    """(y, x, w) of rectified point (ry, rx); w <= 0 means beyond the vanishing line."""
    den = 1.0 - lines[k, 0] * ry - lines[k, 1] * rx
    if den <= 1e-12:
        return 0.0, 0.0, -1.0
    w = lines[k, 2] / den
    return ry * w, rx * w, w


@jit
def candidate_transform(lines, k, ty, tx, oy, ox):
    """Source centre and local affine map of candidate (plane k, offset) at target t.

    Returns (sy, sx, a_rr, a_rc, a_cr, a_cc, scale, ok); ``ok`` is False when the
    source falls at or beyond the plane's vanishing line.
    """
    ry, rx, wt = rectify(lines, k, ty, tx)
    if wt <= 0.0:
        return 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, False
    sy, sx, ws = unrectify(lines, k, ry + oy, rx + ox)
    if ws <= 0.0:
        return 0.0, 0.0, 1.0, 0.0, 0.0, 1.0, 1.0, False
    g0 = lines[k, 0]
    g1 = lines[k, 1]
    c = lines[k, 2]
    # A = (ws / wt) (I + s g^T / c) (I - t g^T / wt)
    f = ws / wt
    p00 = 1.0 + sy * g0 / c
    p01 = sy * g1 / c
    p10 = sx * g0 / c
    p11 = 1.0 + sx * g1 / c
    q00 = 1.0 - ty * g0 / wt
    q01 = -ty * g1 / wt
    q10 = -tx * g0 / wt
    q11 = 1.0 - tx * g1 / wt
    a00 = f * (p00 * q00 + p01 * q10)
    a01 = f * (p00 * q01 + p01 * q11)
    a10 = f * (p10 * q00 + p11 * q10)
    a11 = f * (p10 * q01 + p11 * q11)
    scale = f ** 1.5
    return sy, sx, a00, a01, a10, a11, scale, True


@jit
def target_sums(tgt, tgt_valid, gauss, r, n_colour, ty, tx, sums):
    """Gaussian-weighted sums of the target patch at t over its pixels inside the
    target and valid: ``sums[c]`` for the first ``n_colour`` channels and, in
    ``sums[n_colour]``, the sum of the weights. They depend on t only, so the search
    computes them once per target patch for all its candidates."""
    tgt_h = tgt.shape[0]
    tgt_w = tgt.shape[1]
    side = 2 * r + 1
    for c in range(n_colour + 1):
        sums[c] = 0.0
    for i in range(side):
        yy = ty + i - r
        if yy < 0 or yy >= tgt_h:
            continue
        for j in range(side):
            xx = tx + j - r
            if xx < 0 or xx >= tgt_w or not tgt_valid[yy, xx]:
                continue
            w = gauss[i, j]
            sums[n_colour] += w
            for c in range(n_colour):
                sums[c] += w * tgt[yy, xx, c]


@jit
def warped_cost(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, bias_max,
                ty, tx, sy, sx, a00, a01, a10, a11, samples, bias, limit, sums):
    """Appearance cost of the source patch at (sy, sx) warped by A against target t.

    Gaussian-weighted mean, over the target patch pixels inside the target and
    valid, of the L1 difference summed over channels, after adding to the source's
    first ``n_colour`` channels the per-channel bias mean(target) - mean(source)
    clipped to +-``bias_max`` (written to ``bias``). +inf if any sample's nearest
    pixel is outside the source or not in ``src_ok``. ``samples`` is scratch
    (>= side^2, C); ``sums`` the target's :func:`target_sums`. Stops early once the
    cost exceeds ``limit`` (the value returned is then only known to be > ``limit``).
    """
    src_h = src.shape[0]
    src_w = src.shape[1]
    tgt_h = tgt.shape[0]
    tgt_w = tgt.shape[1]
    channels = src.shape[2]
    side = 2 * r + 1
    total_w = sums[n_colour]
    # ``bias`` first accumulates the source's weighted sums (no allocation per call).
    for c in range(n_colour):
        bias[c] = 0.0
    for i in range(side):
        dy = i - r
        yy = ty + dy
        for j in range(side):
            dx = j - r
            xx = tx + dx
            n = i * side + j
            py = sy + a00 * dy + a01 * dx
            px = sx + a10 * dy + a11 * dx
            if py < 0.0 or px < 0.0 or py > src_h - 1 or px > src_w - 1:
                return np.inf
            if not src_ok[int(py + 0.5), int(px + 0.5)]:
                return np.inf
            if yy < 0 or yy >= tgt_h or xx < 0 or xx >= tgt_w or not tgt_valid[yy, xx]:
                samples[n, 0] = np.nan
                continue
            w = gauss[i, j]
            # Bilinear weights once per sample, shared by the channels.
            y0, x0, w00, w01, w10, w11 = bilinear_cell(py, px, src_h, src_w)
            for c in range(channels):
                value = (w00 * src[y0, x0, c] + w01 * src[y0, x0 + 1, c]
                         + w10 * src[y0 + 1, x0, c] + w11 * src[y0 + 1, x0 + 1, c])
                samples[n, c] = value
                if c < n_colour:
                    bias[c] += w * value
    if total_w <= 0.0:
        for c in range(n_colour):
            bias[c] = 0.0
        return 0.0
    for c in range(n_colour):
        b = (sums[c] - bias[c]) / total_w
        bias[c] = min(max(b, -bias_max), bias_max)
    cost = 0.0
    stop = limit * total_w
    for i in range(side):
        if cost > stop:
            return cost / total_w  # already worse than the best: early termination
        yy = ty + i - r
        for j in range(side):
            n = i * side + j
            if np.isnan(samples[n, 0]):
                continue
            xx = tx + j - r
            acc = 0.0
            for c in range(channels):
                diff = tgt[yy, xx, c] - samples[n, c]
                if c < n_colour:
                    diff -= bias[c]
                acc += abs(diff)
            cost += gauss[i, j] * acc
    return cost / total_w


@jit
def on_lattice(regularity, n_reg, k, oy, ox, tol):
    """Whether offset (oy, ox) is m times a regularity vector of plane k (m != 0)."""
    for v in range(n_reg[k]):
        vy = regularity[k, v, 0]
        vx = regularity[k, v, 1]
        norm2 = vy * vy + vx * vx
        if norm2 <= 0.0:
            continue
        m = np.floor((oy * vy + ox * vx) / norm2 + 0.5)
        if m == 0.0:
            continue
        ey = oy - m * vy
        ex = ox - m * vx
        if ey * ey + ex * ex <= tol * tol:
            return True
    return False


@jit
def guidance_cost(lines, directions, n_dirs, nlp_t, nlp_s, params, regularity, n_reg, k, ty, tx,
                  oy, ox, sy, sx):
    """Plane, direction, proximity and regularity terms of candidate (k, offset) at t."""
    lam_plane = params[_P_LAM_PLANE]
    lam_direct = params[_P_LAM_DIRECT]
    thresh = params[_P_DIRECT_THRESH]
    lam_prox = params[_P_LAM_PROX]
    size = params[_P_SIZE]
    cost = 0.0
    if lam_plane > 0.0:
        iy = min(max(int(sy + 0.5), 0), nlp_s.shape[1] - 1)
        ix = min(max(int(sx + 0.5), 0), nlp_s.shape[2] - 1)
        cost += lam_plane * (nlp_t[k, ty, tx] + nlp_s[k, iy, ix])
    if lam_direct > 0.0:
        best = thresh
        for j in range(n_dirs[k]):
            perp = abs(oy * directions[k, j, 1] - ox * directions[k, j, 0]) / size
            if perp < best:
                best = perp
        cost += lam_direct * best
    if lam_prox > 0.0:
        cost += lam_prox * np.sqrt((sy - ty) ** 2 + (sx - tx) ** 2) / size
    if params[_P_LAM_REG] > 0.0 and on_lattice(regularity, n_reg, k, oy, ox, params[_P_REG_TOL]):
        cost -= params[_P_LAM_REG]
    return cost


@jit
def evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
             nlp_t, nlp_s, params, regularity, n_reg, k, ty, tx, oy, ox, samples, bias, best,
             sums):
    """Total cost of candidate (plane k, rectified offset) at target (ty, tx); +inf
    when the candidate is invalid (beyond the vanishing line, scale out of range,
    or touching an invalid source pixel). The appearance term stops early once the
    total cannot beat ``best`` (pass +inf for the exact cost); a candidate that
    returns ``>= best`` lost, and ``bias`` is then meaningless. ``sums``: the
    target's :func:`target_sums`."""
    sy, sx, a00, a01, a10, a11, scale, ok = candidate_transform(lines, k, ty, tx, oy, ox)
    if not ok or scale < params[_P_SCALE_MIN] or scale > params[_P_SCALE_MAX]:
        return np.inf
    guide = guidance_cost(lines, directions, n_dirs, nlp_t, nlp_s, params, regularity,
                          n_reg, k, ty, tx, oy, ox, sy, sx)
    if guide >= best:
        return np.inf  # the guidance alone loses: skip the patch
    app = warped_cost(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, params[_P_BIAS_MAX],
                      ty, tx, sy, sx, a00, a01, a10, a11, samples, bias, best - guide, sums)
    return app + guide


@jit
def _draw_plane(cum_post, ty, tx, u):
    """Index of the plane drawn from the cumulative posterior at t by uniform u."""
    n = cum_post.shape[2]
    for k in range(n - 1):
        if u < cum_post[ty, tx, k]:
            return k
    return n - 1


@jit
def _init_row(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
              nlp_t, nlp_s, params, regularity, n_reg, active, coords, plane, offset, cost, bias,
              keep, seed, y, samples, bias_tmp, sums):
    fronto = lines.shape[0] - 1
    state = stream_seed(seed, 0x51ED, y)
    n_coords = coords.shape[0]
    for x in range(active.shape[1]):
        if not active[y, x]:
            cost[y, x] = np.inf
            continue
        target_sums(tgt, tgt_valid, gauss, r, n_colour, y, x, sums)
        d = np.inf
        if keep:
            d = evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions,
                         n_dirs, nlp_t, nlp_s, params, regularity, n_reg, plane[y, x], y, x,
                         offset[y, x, 0], offset[y, x, 1], samples, bias_tmp, np.inf, sums)
        if d == np.inf:
            # A random fully valid source centre on the fronto-parallel plane: always
            # a valid candidate (identity transform).
            state = xorshift32(state)
            idx = state % n_coords
            plane[y, x] = fronto
            offset[y, x, 0] = coords[idx, 0] - y
            offset[y, x, 1] = coords[idx, 1] - x
            d = evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions,
                         n_dirs, nlp_t, nlp_s, params, regularity, n_reg, fronto, y, x,
                         offset[y, x, 0], offset[y, x, 1], samples, bias_tmp, np.inf, sums)
        cost[y, x] = d
        for c in range(n_colour):
            bias[y, x, c] = bias_tmp[c]


@jit
def field_init(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
               nlp_t, nlp_s, params, regularity, n_reg, active, coords, plane, offset, cost, bias,
               keep, seed,
               start, step):
    """Costs of the given field (``keep``) at active entries; entries that are invalid
    (or all, without ``keep``) get a random valid source centre on the
    fronto-parallel plane. Rows ``start, start + step, ...``."""
    samples = np.empty(((2 * r + 1) ** 2, src.shape[2]))
    bias_tmp = np.zeros(max(n_colour, 1))
    sums = np.zeros(n_colour + 1)
    for y in range(start, active.shape[0], step):
        _init_row(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
                  nlp_t, nlp_s, params, regularity, n_reg, active, coords, plane, offset, cost,
                  bias, keep, seed, y, samples, bias_tmp, sums)


@jit
def _iterate_band(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
                  nlp_t, nlp_s, params, cum_post, regularity, n_reg, active, plane, offset,
                  cost, bias, snap_plane, snap_offset, iteration, seed, bounds,
                  reg_samples, band):
    height = active.shape[0]
    width = active.shape[1]
    src_h = src.shape[0]
    src_w = src.shape[1]
    forward = iteration % 2 == 0
    step = 1 if forward else -1
    band_start = bounds[band]
    band_stop = bounds[band + 1]
    state = stream_seed(seed, iteration, band)
    samples = np.empty(((2 * r + 1) ** 2, src.shape[2]))
    bias_tmp = np.zeros(max(n_colour, 1))
    best_bias = np.zeros(max(n_colour, 1))
    sums = np.zeros(n_colour + 1)
    max_radius = max(src_h, src_w)
    for i in range(band_stop - band_start):
        y = band_start + i if forward else band_stop - 1 - i
        for j in range(width):
            x = j if forward else width - 1 - j
            if not active[y, x]:
                continue
            target_sums(tgt, tgt_valid, gauss, r, n_colour, y, x, sums)
            best_k = plane[y, x]
            best_oy = np.float64(offset[y, x, 0])
            best_ox = np.float64(offset[y, x, 1])
            best_d = np.float64(cost[y, x])
            for c in range(n_colour):
                best_bias[c] = bias[y, x, c]

            # Propagation: the neighbour's plane and rectified offset.
            for axis in range(2):
                ny = y - step if axis == 1 else y
                nx = x - step if axis == 0 else x
                if ny < 0 or ny >= height or nx < 0 or nx >= width or not active[ny, nx]:
                    continue
                if axis == 0 or band_start <= ny < band_stop:
                    ck = plane[ny, nx]
                    coy = np.float64(offset[ny, nx, 0])
                    cox = np.float64(offset[ny, nx, 1])
                else:
                    ck = snap_plane[ny, nx]
                    coy = np.float64(snap_offset[ny, nx, 0])
                    cox = np.float64(snap_offset[ny, nx, 1])
                if ck == best_k and coy == best_oy and cox == best_ox:
                    continue
                d = evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines,
                             directions, n_dirs, nlp_t, nlp_s, params, regularity, n_reg, ck,
                             y, x, coy, cox,
                             samples, bias_tmp, best_d, sums)
                if d < best_d:
                    best_k, best_oy, best_ox, best_d = ck, coy, cox, d
                    for c in range(n_colour):
                        best_bias[c] = bias_tmp[c]

            # Random search: around the current source centre, in the image, with
            # halving radius; each candidate's plane drawn from the posterior at t.
            sy, sx, _, _, _, _, _, _ = candidate_transform(lines, best_k, y, x, best_oy, best_ox)
            radius = max_radius
            while radius >= 1:
                span = 2 * radius + 1
                state = xorshift32(state)
                cy = sy + ((state * span) >> 32) - radius
                state = xorshift32(state)
                cx = sx + ((state * span) >> 32) - radius
                state = xorshift32(state)
                ck = _draw_plane(cum_post, y, x, state * _INV32)
                radius //= 2
                if cy < r or cx < r or cy > src_h - 1 - r or cx > src_w - 1 - r:
                    continue
                ry, rx, wt = rectify(lines, ck, y, x)
                qy, qx, wc = rectify(lines, ck, cy, cx)
                if wt <= 0.0 or wc <= 0.0:
                    continue
                coy = qy - ry
                cox = qx - rx
                d = evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines,
                             directions, n_dirs, nlp_t, nlp_s, params, regularity, n_reg, ck,
                             y, x, coy, cox,
                             samples, bias_tmp, best_d, sums)
                if d < best_d:
                    best_k, best_oy, best_ox, best_d = ck, coy, cox, d
                    for c in range(n_colour):
                        best_bias[c] = bias_tmp[c]

            # Regularity-guided search (Huang et al. 2014, sec. 5.2): target + m times a
            # regularity vector of a plane drawn from the posterior, in its rectified
            # frame, m a random non-zero integer.
            for _ in range(reg_samples):
                state = xorshift32(state)
                ck = _draw_plane(cum_post, y, x, state * _INV32)
                if n_reg[ck] == 0:
                    continue
                state = xorshift32(state)
                v = state % n_reg[ck]
                vy = regularity[ck, v, 0]
                vx = regularity[ck, v, 1]
                length = np.sqrt(vy * vy + vx * vx)
                m_max = max(1, int(max_radius / max(length, 1.0)))
                state = xorshift32(state)
                m = 1 + state % m_max
                state = xorshift32(state)
                if state & 1:
                    m = -m
                coy = m * vy
                cox = m * vx
                d = evaluate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines,
                             directions, n_dirs, nlp_t, nlp_s, params, regularity, n_reg, ck,
                             y, x, coy, cox,
                             samples, bias_tmp, best_d, sums)
                if d < best_d:
                    best_k, best_oy, best_ox, best_d = ck, coy, cox, d
                    for c in range(n_colour):
                        best_bias[c] = bias_tmp[c]

            plane[y, x] = best_k
            offset[y, x, 0] = best_oy
            offset[y, x, 1] = best_ox
            cost[y, x] = best_d
            for c in range(n_colour):
                bias[y, x, c] = best_bias[c]


@jit_parallel
def field_iterate(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions, n_dirs,
                  nlp_t, nlp_s, params, cum_post, regularity, n_reg, active, plane, offset,
                  cost, bias, snap_plane, snap_offset, iteration, seed, bounds,
                  reg_samples):
    """One transform-aware PatchMatch iteration: propagation of (plane, rectified
    offset) from the scan-order neighbours, random search with planes drawn from the
    posterior, and ``reg_samples`` regularity-guided candidates. Row bands
    ``bounds[b]:bounds[b + 1]`` run in parallel as in
    :func:`._patchmatch_kernels.nnf_iterate` (neighbours in other bands read from
    the snapshot), so results do not depend on the thread count."""
    for band in prange(bounds.shape[0] - 1):
        _iterate_band(src, tgt, tgt_valid, src_ok, gauss, r, n_colour, lines, directions,
                      n_dirs, nlp_t, nlp_s, params, cum_post, regularity, n_reg, active,
                      plane, offset, cost, bias, snap_plane, snap_offset, iteration, seed,
                      bounds, reg_samples, band)


@jit
def field_transforms(lines, plane, offset, active, positions, affine, start, step):
    """Source centres (H, W, 2) and affine maps (H, W, 4) of the field's entries."""
    for y in range(start, plane.shape[0], step):
        for x in range(plane.shape[1]):
            if not active[y, x]:
                positions[y, x, 0] = y
                positions[y, x, 1] = x
                affine[y, x, 0] = 1.0
                affine[y, x, 1] = 0.0
                affine[y, x, 2] = 0.0
                affine[y, x, 3] = 1.0
                continue
            sy, sx, a00, a01, a10, a11, _, _ = candidate_transform(
                lines, plane[y, x], y, x, offset[y, x, 0], offset[y, x, 1])
            positions[y, x, 0] = sy
            positions[y, x, 1] = sx
            affine[y, x, 0] = a00
            affine[y, x, 1] = a01
            affine[y, x, 2] = a10
            affine[y, x, 3] = a11


@jit
def vote_warped(colour, positions, affine, bias, n_colour, weight, active, hole, r, out,
                start, step):
    """Wexler et al. 2007 voting with warped patches: each hole pixel p becomes the
    weighted mean, over the overlapping active target patches q, of the source
    sample at s_q + A_q (p - q) (plus q's bias on the colour channels)."""
    height = hole.shape[0]
    width = hole.shape[1]
    channels = colour.shape[2]
    acc = np.zeros(channels)
    for y in range(start, height, step):
        for x in range(width):
            if not hole[y, x]:
                continue
            acc[:] = 0.0
            total = 0.0
            for qy in range(max(0, y - r), min(height, y + r + 1)):
                for qx in range(max(0, x - r), min(width, x + r + 1)):
                    if not active[qy, qx]:
                        continue
                    w = weight[qy, qx]
                    if w <= 0.0:
                        continue
                    dy = y - qy
                    dx = x - qx
                    py = positions[qy, qx, 0] + affine[qy, qx, 0] * dy + affine[qy, qx, 1] * dx
                    px = positions[qy, qx, 1] + affine[qy, qx, 2] * dy + affine[qy, qx, 3] * dx
                    for c in range(channels):
                        value = bilinear_sample(colour, py, px, c)
                        if c < n_colour:
                            value += bias[qy, qx, c]
                        acc[c] += w * value
                    total += w
            if total > 1e-200:
                for c in range(channels):
                    out[y, x, c] = acc[c] / total
            else:
                for c in range(channels):
                    out[y, x, c] = colour[y, x, c]


@jit
def best_sources(positions, affine, cost, active, hole, r, sources, start, step):
    """At each hole pixel, the source pixel (rounded) that its lowest-cost
    overlapping patch maps it to: the input of the gradient-domain vote."""
    height = hole.shape[0]
    width = hole.shape[1]
    for y in range(start, height, step):
        for x in range(width):
            if not hole[y, x]:
                continue
            best = np.inf
            for qy in range(max(0, y - r), min(height, y + r + 1)):
                for qx in range(max(0, x - r), min(width, x + r + 1)):
                    if active[qy, qx] and cost[qy, qx] < best:
                        best = cost[qy, qx]
                        dy = y - qy
                        dx = x - qx
                        py = positions[qy, qx, 0] + affine[qy, qx, 0] * dy + affine[qy, qx, 1] * dx
                        px = positions[qy, qx, 1] + affine[qy, qx, 2] * dy + affine[qy, qx, 3] * dx
                        sources[y, x, 0] = min(max(int(py + 0.5), 0), height - 1)
                        sources[y, x, 1] = min(max(int(px + 0.5), 0), width - 1)
