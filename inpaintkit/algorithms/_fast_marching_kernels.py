"""Numba kernels for fast-marching inpainting: the narrow band, Telea's estimate, coherence transport.

Nothing here validates user input: :mod:`inpaintkit.algorithms.fast_marching` prepares
contiguous crops and calls these kernels. Pixels are addressed by flat index
``y * width + x`` inside a crop.

``fast_march`` runs Sethian's fast marching method and returns the arrival time ``T``
(distance to the known region) and the order in which hole pixels are accepted. Both
fills then visit the hole in that order. A pixel ``q`` may be read while filling ``p``
only if ``T[q] < T[p]`` (known pixels have ``T = 0``): pixels on the same level set are
never used for each other, which keeps the result free of the scan-direction bias that
a heap's tie-breaking would otherwise introduce.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit, jit_strict

_KNOWN = 0
_BAND = 1
_INSIDE = 2


@jit_strict
def _heap_before(T, a, b):
    # Order by arrival time, ties by pixel index: deterministic and equal to heapq on (T, index).
    ta = T[a]
    tb = T[b]
    return ta < tb or (ta == tb and a < b)


@jit_strict
def _heap_sift_up(heap, pos, T, i):
    item = heap[i]
    while i > 0:
        parent = (i - 1) >> 1
        other = heap[parent]
        if not _heap_before(T, item, other):
            break
        heap[i] = other
        pos[other] = i
        i = parent
    heap[i] = item
    pos[item] = i


@jit_strict
def _heap_sift_down(heap, pos, T, size, i):
    item = heap[i]
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        right = child + 1
        if right < size and _heap_before(T, heap[right], heap[child]):
            child = right
        other = heap[child]
        if not _heap_before(T, other, item):
            break
        heap[i] = other
        pos[other] = i
        i = child
    heap[i] = item
    pos[item] = i


@jit_strict
def _eikonal_update(T, flags, height, width, i):
    """First-order upwind solution of |grad T| = 1 at pixel ``i`` from its KNOWN neighbours.

    Sethian (1996): with a = min horizontal, b = min vertical neighbour time, T solves
    (T - a)^2 + (T - b)^2 = 1 when |a - b| < 1, else T = min(a, b) + 1.
    """
    y = i // width
    x = i - y * width
    inf = np.inf
    ux = inf
    if x > 0 and flags[i - 1] == _KNOWN:
        ux = T[i - 1]
    if x < width - 1 and flags[i + 1] == _KNOWN and T[i + 1] < ux:
        ux = T[i + 1]
    uy = inf
    if y > 0 and flags[i - width] == _KNOWN:
        uy = T[i - width]
    if y < height - 1 and flags[i + width] == _KNOWN and T[i + width] < uy:
        uy = T[i + width]
    low = min(ux, uy)
    high = max(ux, uy)
    if high - low >= 1.0:  # also when only one direction is known (high = inf)
        return low + 1.0
    return (low + high + math.sqrt(2.0 - (high - low) * (high - low))) * 0.5


@jit_strict
def fast_march(hole):
    """Arrival times and acceptance order of the hole pixels (Sethian's fast marching).

    Parameters
    ----------
    hole : ndarray, shape (H, W), bool
        True where the value is unknown. At least one pixel must be known.

    Returns
    -------
    T : ndarray, shape (H, W), float64
        0 on known pixels, the distance-like arrival time (> 0) on hole pixels reached
        from the known region, inf on hole pixels it cannot reach.
    order : ndarray, shape (N,), int64
        Flat indices of the reached hole pixels in increasing (T, index) order.
    """
    height, width = hole.shape
    n_pixels = height * width
    flat_hole = hole.ravel()
    T = np.zeros(n_pixels)
    flags = np.zeros(n_pixels, np.uint8)
    n_hole = 0
    for i in range(n_pixels):
        if flat_hole[i]:
            flags[i] = _INSIDE
            T[i] = np.inf
            n_hole += 1
    heap = np.empty(max(n_hole, 1), np.int64)
    pos = np.full(n_pixels, -1, np.int64)
    order = np.empty(n_hole, np.int64)
    size = 0
    # The initial narrow band: hole pixels with a known 4-neighbour.
    for i in range(n_pixels):
        if flags[i] != _INSIDE:
            continue
        y = i // width
        x = i - y * width
        touches = (
            (x > 0 and flags[i - 1] == _KNOWN)
            or (x < width - 1 and flags[i + 1] == _KNOWN)
            or (y > 0 and flags[i - width] == _KNOWN)
            or (y < height - 1 and flags[i + width] == _KNOWN)
        )
        if touches:
            T[i] = _eikonal_update(T, flags, height, width, i)
            flags[i] = _BAND
            heap[size] = i
            pos[i] = size
            size += 1
            _heap_sift_up(heap, pos, T, size - 1)
    count = 0
    while size > 0:
        p = heap[0]
        size -= 1
        if size > 0:
            heap[0] = heap[size]
            pos[heap[0]] = 0
            _heap_sift_down(heap, pos, T, size, 0)
        pos[p] = -1
        flags[p] = _KNOWN
        order[count] = p
        count += 1
        y = p // width
        x = p - y * width
        for k in range(4):
            if k == 0:
                if x == 0:
                    continue
                q = p - 1
            elif k == 1:
                if x == width - 1:
                    continue
                q = p + 1
            elif k == 2:
                if y == 0:
                    continue
                q = p - width
            else:
                if y == height - 1:
                    continue
                q = p + width
            if flags[q] == _KNOWN:
                continue
            t = _eikonal_update(T, flags, height, width, q)
            if flags[q] == _INSIDE:
                flags[q] = _BAND
                T[q] = t
                heap[size] = q
                pos[q] = size
                size += 1
                _heap_sift_up(heap, pos, T, size - 1)
            elif t < T[q]:
                T[q] = t
                _heap_sift_up(heap, pos, T, pos[q])
    return T.reshape((height, width)), order[:count]


@jit
def _minmod(a, b):
    """The smaller-magnitude of two slopes of equal sign, else 0 (a TVD slope limiter)."""
    if a * b <= 0.0:
        return 0.0
    return a if abs(a) < abs(b) else b


@jit
def telea_fill(values, T, order, start, stop, off_y, off_x, inv_len, inv_len2):
    """Fill hole pixels in place with Telea's first-order estimate, in fast-marching order.

    Telea (2004), eq. 4-8: I(p) = sum_q w(p,q) [I(q) + grad I(q) . (p - q)] / sum_q w(p,q)
    over pixels q in the ball with T(q) < T(p); w = dir * dst * lev with
    dir = |N(p) . (p - q)| / |p - q| (N = grad T / |grad T|), dst = 1 / |p - q|^2,
    lev = 1 / (1 + |T(p) - T(q)|).

    grad I(q) is estimated on the given data only (pixels with T = 0): the minmod of
    the two nearest one-sided differences (backward/forward where both neighbours are
    given, else the two on the given side; 0 if neither pair exists). A filled pixel
    contributes its value without a gradient term. Extrapolating gradients of filled
    values feeds the first-order term back into itself and smears streaks with
    overshoots across large holes; minmod keeps linear data exact near the boundary
    without extrapolating across a step edge. The result is clamped to the range of
    the values it averages (a discrete maximum principle), so no new extremes appear.

    Parameters
    ----------
    values : ndarray, shape (H, W, C), float64
        Known values; hole values are overwritten (never read before being filled).
    T : ndarray, shape (H, W), float64
        Arrival times from :func:`fast_march`.
    order : ndarray, shape (N,), int64
        Flat indices to fill, in increasing T.
    start, stop : int
        Fill ``order[start:stop]``; earlier entries must be filled already (chunks
        let the caller report progress).
    off_y, off_x : ndarray, shape (M,), int64
        Offsets q - p of the ball, nearest first, (0, 0) excluded.
    inv_len, inv_len2 : ndarray, shape (M,), float64
        1 / |q - p| and 1 / |q - p|^2 for those offsets.
    """
    height, width, channels = values.shape
    n_offsets = off_y.shape[0]
    base = np.empty(channels)
    acc = np.empty(channels)
    lo = np.empty(channels)
    hi = np.empty(channels)
    for k in range(start, stop):
        p = order[k]
        py = p // width
        px = p - py * width
        tp = T[py, px]
        # Level-set normal N(p) from the (final) arrival-time field.
        if 0 < px < width - 1:
            gtx = (T[py, px + 1] - T[py, px - 1]) * 0.5
        elif px > 0:
            gtx = tp - T[py, px - 1]
        elif px < width - 1:
            gtx = T[py, px + 1] - tp
        else:
            gtx = 0.0
        if 0 < py < height - 1:
            gty = (T[py + 1, px] - T[py - 1, px]) * 0.5
        elif py > 0:
            gty = tp - T[py - 1, px]
        elif py < height - 1:
            gty = T[py + 1, px] - tp
        else:
            gty = 0.0
        if not (math.isfinite(gtx) and math.isfinite(gty)):
            gtx = 0.0
            gty = 0.0
        gnorm = math.sqrt(gtx * gtx + gty * gty)
        has_normal = gnorm > 0.0
        if has_normal:
            gtx /= gnorm
            gty /= gnorm
        weight_sum = 0.0
        have_base = False
        for j in range(n_offsets):
            qy = py + off_y[j]
            qx = px + off_x[j]
            if qy < 0 or qy >= height or qx < 0 or qx >= width:
                continue
            tq = T[qy, qx]
            if not tq < tp:
                continue
            ry = -off_y[j]  # p - q
            rx = -off_x[j]
            if has_normal:
                direction = abs(gtx * rx + gty * ry) * inv_len[j]
                if direction < 1e-6:  # keep a neighbour orthogonal to N(p) in the sum
                    direction = 1e-6
            else:
                direction = 1.0
            weight = direction * inv_len2[j] / (1.0 + abs(tp - tq))
            if not have_base:
                # Accumulate differences from the nearest neighbour's value so that a
                # constant region reproduces its value exactly (no rounding drift).
                for c in range(channels):
                    base[c] = values[qy, qx, c]
                    acc[c] = 0.0
                    lo[c] = base[c]
                    hi[c] = base[c]
                have_base = True
            if tq > 0.0:
                # A filled pixel: its value enters, but no gradient is extrapolated from
                # it (grad I is estimated only on the given data; see the docstring).
                for c in range(channels):
                    v = values[qy, qx, c]
                    lo[c] = min(lo[c], v)
                    hi[c] = max(hi[c], v)
                    acc[c] += weight * (v - base[c])
                weight_sum += weight
                continue
            # grad I(q) from given neighbours (T == 0), slope-limited (see the docstring).
            left = qx > 0 and T[qy, qx - 1] == 0.0
            right = qx < width - 1 and T[qy, qx + 1] == 0.0
            left2 = left and qx > 1 and T[qy, qx - 2] == 0.0
            right2 = right and qx < width - 2 and T[qy, qx + 2] == 0.0
            up = qy > 0 and T[qy - 1, qx] == 0.0
            down = qy < height - 1 and T[qy + 1, qx] == 0.0
            up2 = up and qy > 1 and T[qy - 2, qx] == 0.0
            down2 = down and qy < height - 2 and T[qy + 2, qx] == 0.0
            for c in range(channels):
                v = values[qy, qx, c]
                if left and right:
                    gx = _minmod(values[qy, qx + 1, c] - v, v - values[qy, qx - 1, c])
                elif right2:
                    gx = _minmod(values[qy, qx + 1, c] - v,
                                 values[qy, qx + 2, c] - values[qy, qx + 1, c])
                elif left2:
                    gx = _minmod(v - values[qy, qx - 1, c],
                                 values[qy, qx - 1, c] - values[qy, qx - 2, c])
                else:
                    gx = 0.0
                if up and down:
                    gy = _minmod(values[qy + 1, qx, c] - v, v - values[qy - 1, qx, c])
                elif down2:
                    gy = _minmod(values[qy + 1, qx, c] - v,
                                 values[qy + 2, qx, c] - values[qy + 1, qx, c])
                elif up2:
                    gy = _minmod(v - values[qy - 1, qx, c],
                                 values[qy - 1, qx, c] - values[qy - 2, qx, c])
                else:
                    gy = 0.0
                lo[c] = min(lo[c], v)
                hi[c] = max(hi[c], v)
                acc[c] += weight * ((v - base[c]) + (gx * rx + gy * ry))
            weight_sum += weight
        if not have_base:
            continue  # unreachable for pixels produced by fast_march (radius >= 1)
        for c in range(channels):
            # Discrete maximum principle: no value outside the range it was built from,
            # so the first-order term cannot overshoot at edges.
            v = base[c] + acc[c] / weight_sum
            values[py, px, c] = min(max(v, lo[c]), hi[c])


@jit
def _structure_products(smoothed, weight_sum, y, x, height, width, out):
    """Channel-summed (Ix^2, Ix*Iy, Iy^2) of the smoothed image at (y, x).

    Central differences, one-sided where a neighbour has no data yet (weight_sum == 0).
    """
    channels = smoothed.shape[2]
    left = x > 0 and weight_sum[y, x - 1] > 0.0
    right = x < width - 1 and weight_sum[y, x + 1] > 0.0
    up = y > 0 and weight_sum[y - 1, x] > 0.0
    down = y < height - 1 and weight_sum[y + 1, x] > 0.0
    sxx = 0.0
    sxy = 0.0
    syy = 0.0
    for c in range(channels):
        centre = smoothed[y, x, c]
        if left and right:
            gx = (smoothed[y, x + 1, c] - smoothed[y, x - 1, c]) * 0.5
        elif right:
            gx = smoothed[y, x + 1, c] - centre
        elif left:
            gx = centre - smoothed[y, x - 1, c]
        else:
            gx = 0.0
        if up and down:
            gy = (smoothed[y + 1, x, c] - smoothed[y - 1, x, c]) * 0.5
        elif down:
            gy = smoothed[y + 1, x, c] - centre
        elif up:
            gy = centre - smoothed[y - 1, x, c]
        else:
            gy = 0.0
        sxx += gx * gx
        sxy += gx * gy
        syy += gy * gy
    out[0] = sxx
    out[1] = sxy
    out[2] = syy


@jit
def coherence_fill(values, T, order, start, stop, values_sum, weight_sum, smoothed, products,
                   stale, off_y, off_x, inv_len, kernel_sigma, kernel_rho, sharpness2, delta):
    """Fill hole pixels in place by coherence transport (Bornemann and März 2007), in T order.

    I(p) = sum_q w(p,q) I(q) / sum_q w(p,q) over q in the ball with T(q) < T(p), with
    w(p,q) = exp(-mu^2 / (2 eps^2) <c_perp(p), p - q>^2) / |p - q| (eq. 9; the constant
    sqrt(pi/2) mu cancels). c_perp is the dominant eigenvector of the structure tensor
    J_rho(grad I_sigma) of the pixels known before p; mu^2 is scaled by the coherence
    confidence exp(-delta / (l1 - l2)^2), so an isotropic tensor gives the plain
    distance weight 1 / |p - q|.

    Parameters
    ----------
    values : ndarray, shape (H, W, C), float64
        Known values; hole values are overwritten.
    T, order : as returned by :func:`fast_march`.
    start, stop : int
        Fill ``order[start:stop]``; earlier entries must have been filled by earlier
        calls with the same state arrays (chunks let the caller report progress).
    values_sum, weight_sum : ndarray, shapes (H, W, C) and (H, W), float64
        Normalised-convolution sums of the known pixels with the separable kernel
        ``kernel_sigma``: sum g * I * known and sum g * known. Updated in place as
        levels of equal T are filled, so the hole never bleeds into the tensor.
    smoothed : ndarray, shape (H, W, C), float64
        values_sum / weight_sum where weight_sum > 0 (I_sigma); kept in step.
    products : ndarray, shape (H, W, 3), float64
        Cache of the channel-summed gradient products of I_sigma (any content at first).
    stale : ndarray, shape (H, W), uint8
        1 where ``products`` must be recomputed (all ones at first).
    off_y, off_x, inv_len : ndarray, shape (M,)
        The ball of radius eps, nearest first, (0, 0) excluded, and 1 / |q - p|.
    kernel_sigma, kernel_rho : ndarray, shapes (2s+1,), (2r+1,), float64
        Unnormalised 1-D Gaussians for the pre-smoothing (sigma) and the tensor (rho).
    sharpness2 : float
        (mu / eps)^2.
    delta : float
        Coherence threshold in squared-eigenvalue-difference units.
    """
    height, width, channels = values.shape
    n_offsets = off_y.shape[0]
    half_s = (kernel_sigma.shape[0] - 1) // 2
    half_r = (kernel_rho.shape[0] - 1) // 2
    local = np.empty(3)
    base = np.empty(channels)
    acc = np.empty(channels)
    acc_dist = np.empty(channels)
    # The level (equal T) that ends just before ``start`` has not been added to the
    # smoothed sums yet; find where it begins.
    batch_start = start
    if start > 0:
        last = order[start - 1]
        t_last = T[last // width, last - (last // width) * width]
        batch_start = start - 1
        while batch_start > 0:
            prev = order[batch_start - 1]
            if T[prev // width, prev - (prev // width) * width] != t_last:
                break
            batch_start -= 1
    for k in range(start, stop):
        p = order[k]
        py = p // width
        px = p - py * width
        tp = T[py, px]
        b0 = order[batch_start]
        if tp > T[b0 // width, b0 - (b0 // width) * width]:
            # A new level: add the finished level to the smoothed sums (as the authors'
            # implementation does, so that a level's pixels never see each other).
            for b in range(batch_start, k):
                f = order[b]
                fy = f // width
                fx = f - fy * width
                for dy in range(-half_s, half_s + 1):
                    y = fy + dy
                    if y < 0 or y >= height:
                        continue
                    gy = kernel_sigma[dy + half_s]
                    for dx in range(-half_s, half_s + 1):
                        x = fx + dx
                        if x < 0 or x >= width:
                            continue
                        g = gy * kernel_sigma[dx + half_s]
                        weight_sum[y, x] += g
                        inv = 1.0 / weight_sum[y, x]
                        for c in range(channels):
                            values_sum[y, x, c] += g * values[fy, fx, c]
                            smoothed[y, x, c] = values_sum[y, x, c] * inv
                for y in range(max(fy - half_s - 1, 0), min(fy + half_s + 2, height)):
                    for x in range(max(fx - half_s - 1, 0), min(fx + half_s + 2, width)):
                        stale[y, x] = 1
            batch_start = k
        # Structure tensor J_rho at p over pixels known before p (Gaussian rho window).
        jxx = 0.0
        jxy = 0.0
        jyy = 0.0
        jw = 0.0
        x_lo = max(px - half_r, 0)
        x_hi = min(px + half_r + 1, width)
        for y in range(max(py - half_r, 0), min(py + half_r + 1, height)):
            if sharpness2 == 0.0:
                break  # isotropic weights: the tensor is not needed
            gy = kernel_rho[y - py + half_r]
            for x in range(x_lo, x_hi):
                if not T[y, x] < tp:
                    continue
                if stale[y, x]:
                    _structure_products(smoothed, weight_sum, y, x, height, width, local)
                    products[y, x, 0] = local[0]
                    products[y, x, 1] = local[1]
                    products[y, x, 2] = local[2]
                    stale[y, x] = 0
                g = gy * kernel_rho[x - px + half_r]
                jxx += g * products[y, x, 0]
                jxy += g * products[y, x, 1]
                jyy += g * products[y, x, 2]
                jw += g
        gxx = 0.0
        gxy = 0.0
        gyy = 0.0
        if jw > 0.0:
            scale = 1.0 / (jw * channels)
            jxx *= scale
            jxy *= scale
            jyy *= scale
            diff = jxx - jyy
            coherence2 = diff * diff + 4.0 * jxy * jxy  # (l1 - l2)^2
            if coherence2 > 0.0:
                root = math.sqrt(coherence2)
                confidence = math.exp(-delta / coherence2) / root
                # confidence * (l1 - l2) * v1 v1^T, v1 = c_perp (across the isophotes)
                gxx = 0.5 * confidence * (diff + root)
                gxy = confidence * jxy
                gyy = 0.5 * confidence * (root - diff)
        weight_total = 0.0
        dist_total = 0.0
        have_base = False
        for j in range(n_offsets):
            qy = py + off_y[j]
            qx = px + off_x[j]
            if qy < 0 or qy >= height or qx < 0 or qx >= width:
                continue
            if not T[qy, qx] < tp:
                continue
            ry = float(off_y[j])
            rx = float(off_x[j])
            across = gxx * rx * rx + 2.0 * gxy * rx * ry + gyy * ry * ry
            weight = math.exp(-0.5 * sharpness2 * across) * inv_len[j]
            if not have_base:
                for c in range(channels):
                    base[c] = values[qy, qx, c]
                    acc[c] = 0.0
                    acc_dist[c] = 0.0
                have_base = True
            for c in range(channels):
                d = values[qy, qx, c] - base[c]
                acc[c] += weight * d
                acc_dist[c] += inv_len[j] * d
            weight_total += weight
            dist_total += inv_len[j]
        if not have_base:
            continue  # unreachable for pixels produced by fast_march
        if weight_total > 0.0:
            for c in range(channels):
                v = base[c] + acc[c] / weight_total
                values[py, px, c] = min(max(v, 0.0), 1.0)
        else:
            # Every weight underflowed (very large sharpness): use the distance weight.
            for c in range(channels):
                v = base[c] + acc_dist[c] / dist_total
                values[py, px, c] = min(max(v, 0.0), 1.0)
