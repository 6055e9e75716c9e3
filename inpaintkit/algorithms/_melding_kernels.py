"""Numba kernels of patchmatch's Image Melding options: similarity-warped patches with gain/bias.

Nothing here validates user input; :mod:`inpaintkit.algorithms.melding` prepares the
arrays and calls these kernels.

Conventions (coordinates are (row, col); see also :mod:`._patchmatch_kernels`):

- ``features`` is a float64 (H, W, C) image, the same for source and target (the
  completion matches the estimate with itself). Its first ``n_colour`` channels are
  colour (gain and bias apply to them), then any plain channels (texture), then,
  where ``grad >= 0``, the luminance gradient ``(g_row, g_col)`` at channels
  ``grad, grad + 1``.
- A field entry is a sub-pixel source centre ``pos[t]`` and a similarity
  ``xform[t] = (angle, scale, flip)``, flip = +1 or -1 (a mirror of the columns).
  Target pixel t + u is compared with the source sample s + A u, A = scale R(angle)
  diag(1, flip), read bilinearly (Darabi et al. 2012; Barnes et al. 2010, the
  generalized PatchMatch). A sampled gradient is mapped into the target's frame by
  A^T (the chain rule), so rotated copies compare gradients correctly.
- ``valid[y, x]`` is True on the pixels a sample may read (known, not excluded); a
  candidate is valid only if every pixel with a non-zero bilinear weight in every
  sample is, so warped samples never read the hole.
- The distance is the mean over the target patch pixels inside the image of the
  squared difference summed over channels, as :mod:`._patchmatch_kernels`' (so
  the same voting weights apply), after a per-channel gain g and bias b on the
  colour channels of the source: g = clip(sigma_t / sigma_s), b = clip(mu_t - g mu_s)
  in closed form from the patch means and deviations (Image Melding); the
  gradient channels are multiplied by the first colour channel's gain. A
  transformed candidate's distance is then multiplied by 1 + k times its deviation
  from the identity (:func:`transform_deviation`, k = ``params[P_PENALTY]``).
- ``params`` packs the scalars: see the ``P_*`` indices below.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit, jit_parallel, prange
from ._patchmatch_kernels import (_band_count, bilinear_cell, bilinear_sample, stream_seed,
                                  xorshift32)

P_ANGLE_MAX = 0   # largest |angle| (radians)
P_SCALE_MIN = 1
P_SCALE_MAX = 2
P_GAIN_MIN = 3
P_GAIN_MAX = 4
P_BIAS_MAX = 5    # |bias| bound per colour channel (feature units)
P_SIMILARITY = 6  # 1: search rotation, scale and reflection; 0: translations only
P_GAIN_BIAS = 7   # 1: gain and bias on the colour channels
P_PENALTY = 8     # k: a transformed candidate's distance is scaled by 1 + k deviation
N_PARAMS = 9

_INV32 = 1.0 / 4294967296.0
#: Deviations below this count as a flat patch (gain 1).
_FLAT = 1e-6


@jit
def transform_matrix(angle, scale, flip):
    """(a_rr, a_rc, a_cr, a_cc) of A = scale R(angle) diag(1, flip)."""
    c = scale * np.cos(angle)
    s = scale * np.sin(angle)
    return c, -s * flip, s, c * flip


@jit
def sample_patch(features, valid, r, grad, sy, sx, a00, a01, a10, a11, samples):
    """Bilinear samples of the source patch at (sy, sx) warped by A into ``samples``
    ((2r+1)^2, C), gradient channels mapped by A^T. False if any sample reads an
    invalid pixel or lies outside the image."""
    height = features.shape[0]
    width = features.shape[1]
    channels = features.shape[2]
    side = 2 * r + 1
    for i in range(side):
        dy = i - r
        for j in range(side):
            dx = j - r
            py = sy + a00 * dy + a01 * dx
            px = sx + a10 * dy + a11 * dx
            if py < 0.0 or px < 0.0 or py > height - 1 or px > width - 1:
                return False
            y0, x0, w00, w01, w10, w11 = bilinear_cell(py, px, height, width)
            # Only pixels that carry weight must be valid: an integer sample reads
            # one pixel, so plain copies next to the hole stay allowed.
            if ((w00 > 0.0 and not valid[y0, x0]) or (w01 > 0.0 and not valid[y0, x0 + 1])
                    or (w10 > 0.0 and not valid[y0 + 1, x0])
                    or (w11 > 0.0 and not valid[y0 + 1, x0 + 1])):
                return False
            n = i * side + j
            for c in range(channels):
                samples[n, c] = (w00 * features[y0, x0, c] + w01 * features[y0, x0 + 1, c]
                                 + w10 * features[y0 + 1, x0, c]
                                 + w11 * features[y0 + 1, x0 + 1, c])
            if grad >= 0:
                g_row = samples[n, grad]
                g_col = samples[n, grad + 1]
                samples[n, grad] = a00 * g_row + a10 * g_col
                samples[n, grad + 1] = a01 * g_row + a11 * g_col
    return True


@jit
def gain_bias(features, samples, ty, tx, r, n_colour, params, gain, bias):
    """Closed-form per-channel gain and bias (clipped) of the sampled source patch
    against target patch t, over the target pixels inside the image."""
    height = features.shape[0]
    width = features.shape[1]
    side = 2 * r + 1
    for c in range(n_colour):
        sum_t = 0.0
        sum_s = 0.0
        sq_t = 0.0
        sq_s = 0.0
        count = 0
        for i in range(side):
            yy = ty + i - r
            if yy < 0 or yy >= height:
                continue
            for j in range(side):
                xx = tx + j - r
                if xx < 0 or xx >= width:
                    continue
                t = features[yy, xx, c]
                s = samples[i * side + j, c]
                sum_t += t
                sum_s += s
                sq_t += t * t
                sq_s += s * s
                count += 1
        if count == 0:
            gain[c] = 1.0
            bias[c] = 0.0
            continue
        mu_t = sum_t / count
        mu_s = sum_s / count
        sd_t = np.sqrt(max(sq_t / count - mu_t * mu_t, 0.0))
        sd_s = np.sqrt(max(sq_s / count - mu_s * mu_s, 0.0))
        g = sd_t / sd_s if sd_s > _FLAT else 1.0
        g = min(max(g, params[P_GAIN_MIN]), params[P_GAIN_MAX])
        b = mu_t - g * mu_s
        gain[c] = g
        bias[c] = min(max(b, -params[P_BIAS_MAX]), params[P_BIAS_MAX])


@jit
def patch_cost(features, samples, ty, tx, r, n_colour, grad, gain, bias, limit):
    """Mean over the target pixels inside the image of the squared difference summed
    over channels between target patch t and the samples (gain and bias applied).
    Stops after the first row whose running sum exceeds ``limit`` times the count
    of compared pixels."""
    height = features.shape[0]
    width = features.shape[1]
    channels = features.shape[2]
    side = 2 * r + 1
    total = 0.0
    count = 0
    for i in range(side):
        yy = ty + i - r
        if yy < 0 or yy >= height:
            continue
        for j in range(side):
            xx = tx + j - r
            if xx < 0 or xx >= width:
                continue
            n = i * side + j
            for c in range(channels):
                s = samples[n, c]
                if c < n_colour:
                    s = gain[c] * s + bias[c]
                elif grad >= 0 and (c == grad or c == grad + 1):
                    s = gain[0] * s
                diff = features[yy, xx, c] - s
                total += diff * diff
            count += 1
        if total > limit * max(count, 1):
            break
    if count == 0:
        return 0.0
    return total / count


@jit
def evaluate(features, valid, r, n_colour, grad, params, ty, tx, sy, sx, angle, scale, flip,
             samples, gain, bias, limit):
    """Distance of candidate (source centre, similarity) at target t, +inf when it is
    out of range or touches an invalid pixel; ``gain`` and ``bias`` are written."""
    if abs(angle) > params[P_ANGLE_MAX] + 1e-12:
        return np.inf
    if scale < params[P_SCALE_MIN] - 1e-12 or scale > params[P_SCALE_MAX] + 1e-12:
        return np.inf
    a00, a01, a10, a11 = transform_matrix(angle, scale, flip)
    if not sample_patch(features, valid, r, grad, sy, sx, a00, a01, a10, a11, samples):
        return np.inf
    if params[P_GAIN_BIAS] > 0.0:
        gain_bias(features, samples, ty, tx, r, n_colour, params, gain, bias)
    else:
        for c in range(n_colour):
            gain[c] = 1.0
            bias[c] = 0.0
    factor = 1.0 + params[P_PENALTY] * transform_deviation(angle, scale, flip, params)
    return factor * patch_cost(features, samples, ty, tx, r, n_colour, grad, gain, bias,
                               limit / factor)


@jit
def transform_deviation(angle, scale, flip, params):
    """How far a similarity is from the identity: |angle| and |log scale| over their
    largest values, plus 1 for a reflection (0 for the identity)."""
    deviation = abs(angle) / params[P_ANGLE_MAX]
    deviation += abs(np.log(scale)) / max(np.log(params[P_SCALE_MAX]),
                                         -np.log(params[P_SCALE_MIN]))
    if flip < 0.0:
        deviation += 1.0
    return deviation


@jit
def _scratch(r, channels, n_colour):
    samples = np.empty(((2 * r + 1) ** 2, channels))
    gain = np.ones(max(n_colour, 1))
    bias = np.zeros(max(n_colour, 1))
    return samples, gain, bias


@jit
def field_evaluate(features, valid, r, n_colour, grad, params, active, coords, pos, xform,
                   dist, gains, biases, seed, start, step):
    """Distance, gain and bias of every active entry of the field; entries that are
    invalid get a random valid source centre (from ``coords``) with the identity
    transform. Inactive entries get +inf. Rows ``start, start + step, ...``."""
    samples, gain, bias = _scratch(r, features.shape[2], n_colour)
    n_coords = coords.shape[0]
    for y in range(start, active.shape[0], step):
        state = stream_seed(seed, 0x3E1D, y)
        for x in range(active.shape[1]):
            if not active[y, x]:
                dist[y, x] = np.inf
                continue
            d = evaluate(features, valid, r, n_colour, grad, params, y, x, pos[y, x, 0],
                         pos[y, x, 1], xform[y, x, 0], xform[y, x, 1], xform[y, x, 2],
                         samples, gain, bias, np.inf)
            if d == np.inf:
                state = xorshift32(state)
                k = state % n_coords
                pos[y, x, 0] = coords[k, 0]
                pos[y, x, 1] = coords[k, 1]
                xform[y, x, 0] = 0.0
                xform[y, x, 1] = 1.0
                xform[y, x, 2] = 1.0
                d = evaluate(features, valid, r, n_colour, grad, params, y, x, pos[y, x, 0],
                             pos[y, x, 1], 0.0, 1.0, 1.0, samples, gain, bias, np.inf)
            dist[y, x] = d
            for c in range(n_colour):
                gains[y, x, c] = gain[c]
                biases[y, x, c] = bias[c]


@jit
def _iterate_band(features, valid, r, n_colour, grad, params, active, pos, xform, dist,
                  snap_pos, snap_xform, iteration, seed, band_height, band):
    height = active.shape[0]
    width = active.shape[1]
    forward = iteration % 2 == 0
    step = 1 if forward else -1
    shift = (band_height // 2) if (iteration % 2 == 1) else 0
    band_start = max(0, band * band_height - shift)
    band_stop = min(height, (band + 1) * band_height - shift)
    state = stream_seed(seed, iteration, band)
    samples, gain, bias = _scratch(r, features.shape[2], n_colour)
    max_radius = max(height, width)
    similarity = params[P_SIMILARITY] > 0.0
    angle_max = params[P_ANGLE_MAX]
    log_lo = np.log(params[P_SCALE_MIN])
    log_hi = np.log(params[P_SCALE_MAX])
    for i in range(band_stop - band_start):
        y = band_start + i if forward else band_stop - 1 - i
        for j in range(width):
            x = j if forward else width - 1 - j
            if not active[y, x]:
                continue
            best_sy = pos[y, x, 0]
            best_sx = pos[y, x, 1]
            best_a = xform[y, x, 0]
            best_s = xform[y, x, 1]
            best_f = xform[y, x, 2]
            best_d = dist[y, x]

            # Propagation: the neighbour's transform, its centre moved by A e
            # (generalized PatchMatch: a neighbour's match, one step along it).
            for axis in range(2):
                ny = y - step if axis == 1 else y
                nx = x - step if axis == 0 else x
                if ny < 0 or ny >= height or nx < 0 or nx >= width or not active[ny, nx]:
                    continue
                if axis == 0 or band_start <= ny < band_stop:
                    csy = pos[ny, nx, 0]
                    csx = pos[ny, nx, 1]
                    ca = xform[ny, nx, 0]
                    cs = xform[ny, nx, 1]
                    cf = xform[ny, nx, 2]
                else:
                    csy = snap_pos[ny, nx, 0]
                    csx = snap_pos[ny, nx, 1]
                    ca = snap_xform[ny, nx, 0]
                    cs = snap_xform[ny, nx, 1]
                    cf = snap_xform[ny, nx, 2]
                a00, a01, a10, a11 = transform_matrix(ca, cs, cf)
                ey = float(y - ny)
                ex = float(x - nx)
                csy += a00 * ey + a01 * ex
                csx += a10 * ey + a11 * ex
                if (csy == best_sy and csx == best_sx and ca == best_a and cs == best_s
                        and cf == best_f):
                    continue
                d = evaluate(features, valid, r, n_colour, grad, params, y, x, csy, csx,
                             ca, cs, cf, samples, gain, bias, best_d)
                if d < best_d:
                    best_sy, best_sx, best_a, best_s, best_f, best_d = csy, csx, ca, cs, cf, d

            # The identity at the rounded centre: sharp (no resampling) where a
            # plain copy does as well.
            if similarity and (best_a != 0.0 or best_s != 1.0 or best_f != 1.0):
                csy = np.floor(best_sy + 0.5)
                csx = np.floor(best_sx + 0.5)
                d = evaluate(features, valid, r, n_colour, grad, params, y, x, csy, csx,
                             0.0, 1.0, 1.0, samples, gain, bias, best_d)
                if d < best_d:
                    best_sy, best_sx, best_a, best_s, best_f, best_d = csy, csx, 0.0, 1.0, 1.0, d

            # Random search with halving radius: a translated candidate, and (with
            # similarity) one whose angle, log-scale and reflection move, in windows
            # that shrink with the radius (all of their range at the largest).
            radius = max_radius
            while radius >= 1:
                span = 2 * radius + 1
                state = xorshift32(state)
                csy = best_sy + float(((state * span) >> 32) - radius)
                state = xorshift32(state)
                csx = best_sx + float(((state * span) >> 32) - radius)
                d = evaluate(features, valid, r, n_colour, grad, params, y, x, csy, csx,
                             best_a, best_s, best_f, samples, gain, bias, best_d)
                if d < best_d:
                    best_sy, best_sx, best_d = csy, csx, d
                if similarity:
                    # At the two largest radii the transform jumps with the centre;
                    # below, it moves about the current centre (a rotation or scale
                    # error barely moves the best centre, so jittering both at once
                    # would rarely land on the right pair).
                    frac = radius / max_radius
                    csy = best_sy
                    csx = best_sx
                    if 4 * radius >= max_radius:
                        state = xorshift32(state)
                        csy += float(((state * span) >> 32) - radius)
                        state = xorshift32(state)
                        csx += float(((state * span) >> 32) - radius)
                    state = xorshift32(state)
                    ca = best_a + (2.0 * state * _INV32 - 1.0) * 2.0 * angle_max * frac
                    ca = min(max(ca, -angle_max), angle_max)
                    state = xorshift32(state)
                    ls = np.log(best_s) + (2.0 * state * _INV32 - 1.0) * (log_hi - log_lo) * frac
                    cs = np.exp(min(max(ls, log_lo), log_hi))
                    cf = best_f
                    state = xorshift32(state)
                    if frac >= 0.125 and state & 1:
                        cf = -cf
                    d = evaluate(features, valid, r, n_colour, grad, params, y, x, csy, csx,
                                 ca, cs, cf, samples, gain, bias, best_d)
                    if d < best_d:
                        best_sy, best_sx, best_a, best_s, best_f, best_d = \
                            csy, csx, ca, cs, cf, d
                radius //= 2

            pos[y, x, 0] = best_sy
            pos[y, x, 1] = best_sx
            xform[y, x, 0] = best_a
            xform[y, x, 1] = best_s
            xform[y, x, 2] = best_f
            dist[y, x] = best_d


@jit_parallel
def field_iterate(features, valid, r, n_colour, grad, params, active, pos, xform, dist,
                  snap_pos, snap_xform, iteration, seed, band_height, threads=1):
    """One PatchMatch iteration over the similarity field: propagation, an identity
    candidate, random search. Row bands run in parallel as in
    :func:`._patchmatch_kernels.nnf_iterate` (neighbours in other bands read from the
    snapshot; bands dealt round-robin to ``threads`` slots, so that a hole in one half
    of the image still keeps every thread busy), and results do not depend on the
    thread count. ``dist`` must hold the field's distances; gains and biases are
    recomputed by :func:`field_evaluate`."""
    n_bands = _band_count(active.shape[0], band_height, iteration)
    slots = max(1, min(threads, n_bands))
    for slot in prange(slots):
        for band in range(slot, n_bands, slots):
            _iterate_band(features, valid, r, n_colour, grad, params, active, pos, xform,
                          dist, snap_pos, snap_xform, iteration, seed, band_height, band)


@jit
def vote(features, pos, xform, gains, biases, weight, best, active, hole, diff_mask, r,
         n_colour, n_out, out, diffs, start, step):
    """Vote of the warped, gain/bias-corrected source patches (Wexler et al. 2007,
    eq. 3, with Image Melding's transforms).

    For each pixel p, over the active target patches q overlapping it, the source
    point is pos_q + A_q (p - q). With ``best`` False, hole pixels get the weighted
    mean (``weight``) of the first ``n_out`` channels sampled there (gain and bias of
    q on the colour channels); with ``best`` True, those of the q of least
    ``weight`` (pass the distances). Where ``diff_mask``, ``diffs`` (H, W, 2 n_colour)
    gets, averaged or best alike, q's view of the forward differences
    g (S(pt + A e) - S(pt)) for e = (1, 0) (channels ``[0, n_colour)``) and (0, 1):
    the guidance of the gradient-domain vote. Rows ``start, start + step, ...``."""
    height = hole.shape[0]
    width = hole.shape[1]
    acc = np.zeros(n_out)
    acc_diff = np.zeros(2 * n_colour)
    for y in range(start, height, step):
        for x in range(width):
            in_hole = hole[y, x]
            want_diff = diff_mask[y, x]
            if not in_hole and not want_diff:
                continue
            acc[:] = 0.0
            acc_diff[:] = 0.0
            total = 0.0
            least = np.inf
            for qy in range(max(0, y - r), min(height, y + r + 1)):
                for qx in range(max(0, x - r), min(width, x + r + 1)):
                    if not active[qy, qx]:
                        continue
                    w = weight[qy, qx]
                    if best:
                        if not w < least:
                            continue
                        least = w
                        acc[:] = 0.0
                        acc_diff[:] = 0.0
                        w = 1.0
                        total = 0.0
                    elif w <= 0.0:
                        continue
                    a00, a01, a10, a11 = transform_matrix(xform[qy, qx, 0], xform[qy, qx, 1],
                                                          xform[qy, qx, 2])
                    dy = y - qy
                    dx = x - qx
                    py = pos[qy, qx, 0] + a00 * dy + a01 * dx
                    px = pos[qy, qx, 1] + a10 * dy + a11 * dx
                    for c in range(n_out):
                        value = bilinear_sample(features, py, px, c)
                        if c < n_colour:
                            here = value
                            value = gains[qy, qx, c] * value + biases[qy, qx, c]
                            if want_diff:
                                down = bilinear_sample(features, py + a00, px + a10, c)
                                right = bilinear_sample(features, py + a01, px + a11, c)
                                acc_diff[c] += w * gains[qy, qx, c] * (down - here)
                                acc_diff[n_colour + c] += w * gains[qy, qx, c] * (right - here)
                        acc[c] += w * value
                    total += w
            if total > 1e-200:
                if in_hole:
                    for c in range(n_out):
                        out[y, x, c] = acc[c] / total
                if want_diff:
                    for c in range(2 * n_colour):
                        diffs[y, x, c] = acc_diff[c] / total
            else:
                if in_hole:
                    for c in range(n_out):
                        out[y, x, c] = features[y, x, c]
                if want_diff:
                    for c in range(2 * n_colour):
                        diffs[y, x, c] = 0.0
