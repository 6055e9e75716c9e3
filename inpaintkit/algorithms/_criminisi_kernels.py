"""Numba kernels for Criminisi exemplar-based filling (see ``criminisi.py`` for the API).

Every per-pixel array is flat (index ``y * W + x``) and every image is flat with its
channels last (index ``(y * W + x) * C + c``), so offsets are plain integer additions.
``hole`` is the current hole (uint8, 1 = still unknown); ``valid`` marks the centres of
source patches that lie inside the image and were fully known in the input.

Reference: A. Criminisi, P. Perez, K. Toyama, "Region filling and object removal by
exemplar-based image inpainting", IEEE TIP 13(9), 2004. doi:10.1109/TIP.2004.833105
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit, jit_parallel, jit_strict, prange

_BIG = np.int64(1) << np.int64(62)


@jit
def smooth_at(hole, height, width, weights, y, x):
    """The hole indicator blurred by the separable Gaussian ``weights`` at (y, x).

    Borders repeat the nearest pixel (scipy's ``mode="nearest"``). Each row's
    horizontal sum is rounded to float32 before the vertical pass, and the result
    too, as when both passes were stored in float32 arrays. Computed where it is
    needed (the four neighbours of a front pixel), so no per-pixel array is kept.
    """
    radius = weights.shape[0] // 2
    acc = 0.0
    for k in range(-radius, radius + 1):
        yy = min(max(y + k, 0), height - 1)
        row = 0.0
        for m in range(-radius, radius + 1):
            xx = min(max(x + m, 0), width - 1)
            row += weights[m + radius] * hole[yy * width + xx]
        acc += weights[k + radius] * np.float32(row)
    return np.float32(acc)


@jit
def gradient_at(luma, stride, hole, height, width, i):
    """Gradient (y, x) of the luma at known pixel ``i`` from known pixels only, float32.

    ``luma[j * stride]`` is pixel j's luma (stride 3: the L* of Lab features).
    Central differences where both neighbours are known, one-sided where one is,
    zero where none is or the pixel itself is unknown: hole values never leak into
    the isophotes of the data term.
    """
    zero = np.float32(0.0)
    if hole[i]:
        return zero, zero
    y = i // width
    x = i - y * width
    up = y > 0 and hole[i - width] == 0
    down = y < height - 1 and hole[i + width] == 0
    left = x > 0 and hole[i - 1] == 0
    right = x < width - 1 and hole[i + 1] == 0
    if up and down:
        gy = np.float32(0.5 * (luma[(i + width) * stride] - luma[(i - width) * stride]))
    elif down:
        gy = np.float32(luma[(i + width) * stride] - luma[i * stride])
    elif up:
        gy = np.float32(luma[i * stride] - luma[(i - width) * stride])
    else:
        gy = zero
    if left and right:
        gx = np.float32(0.5 * (luma[(i + 1) * stride] - luma[(i - 1) * stride]))
    elif right:
        gx = np.float32(luma[(i + 1) * stride] - luma[i * stride])
    elif left:
        gx = np.float32(luma[i * stride] - luma[(i - 1) * stride])
    else:
        gx = zero
    return gy, gx


@jit
def patch_priority(index, height, width, half, hole, hid, confidence, weights, luma, stride,
                   alpha, epsilon, iso_radius):
    """Confidence C(p) and priority P(p) = C(p) * (D(p) + epsilon) of front pixel ``index``.

    C(p) is eq. (2) of the paper: the summed confidence of the known pixels of the patch
    over the patch area (the in-image part at borders); a pixel known in the input
    has confidence 1, a filled one ``confidence[hid[j]]`` (``hid``: each input hole
    pixel's number, -1 elsewhere). D(p) is eq. (3), |isophote . n_p| / alpha, with
    n_p the unit gradient of the hole indicator smoothed by ``weights`` and the
    isophote taken as the strongest one over the known pixels within ``iso_radius``
    of p (p itself is unknown). ``epsilon`` keeps flat regions ordered by
    confidence instead of tying at zero.
    """
    y = index // width
    x = index - y * width
    ya = max(y - half, 0)
    yb = min(y + half + 1, height)
    xa = max(x - half, 0)
    xb = min(x + half + 1, width)
    normal_y = 0.5 * (smooth_at(hole, height, width, weights, min(y + 1, height - 1), x)
                      - smooth_at(hole, height, width, weights, max(y - 1, 0), x))
    normal_x = 0.5 * (smooth_at(hole, height, width, weights, y, min(x + 1, width - 1))
                      - smooth_at(hole, height, width, weights, y, max(x - 1, 0)))
    norm = math.sqrt(normal_y * normal_y + normal_x * normal_x)
    has_normal = norm > 1e-9
    if has_normal:
        normal_y /= norm
        normal_x /= norm
    total = 0.0
    data = 0.0
    for yy in range(ya, yb):
        for xx in range(xa, xb):
            j = yy * width + xx
            if hole[j]:
                continue
            total += np.float32(1.0) if hid[j] < 0 else confidence[hid[j]]
            if has_normal and abs(yy - y) <= iso_radius and abs(xx - x) <= iso_radius:
                grad_y, grad_x = gradient_at(luma, stride, hole, height, width, j)
                # isophote (-I_y, I_x) dotted with the normal (n_x, n_y)
                v = abs(grad_x * normal_y - grad_y * normal_x)
                if v > data:
                    data = v
    conf = total / ((yb - ya) * (xb - xa))
    return conf, conf * (data / alpha + epsilon)


@jit
def front_region(hole, hid, height, width, front_pos, front_where, counters, y0, y1, x0, x1):
    """Re-derive fill-front membership (hole pixel with a known 4-neighbour) in a region.

    ``front_where`` is indexed by hole number (``hid``); only input hole pixels can be
    on the front.
    """
    for y in range(y0, y1):
        for x in range(x0, x1):
            i = y * width + x
            h = hid[i]
            if h < 0:
                continue
            on_front = False
            if hole[i]:
                on_front = ((y > 0 and hole[i - width] == 0) or (y < height - 1 and hole[i + width] == 0)
                            or (x > 0 and hole[i - 1] == 0) or (x < width - 1 and hole[i + 1] == 0))
            where = front_where[h]
            if on_front and where < 0:
                front_pos[counters[0]] = i
                front_where[h] = counters[0]
                counters[0] += 1
            elif not on_front and where >= 0:
                last = front_pos[counters[0] - 1]
                front_pos[where] = last
                front_where[hid[last]] = where
                front_where[h] = -1
                counters[0] -= 1


@jit
def priority_region(height, width, half, hole, hid, confidence, weights, luma, stride, alpha,
                    epsilon, iso_radius, front_where, front_conf, priority, version, updated,
                    y0, y1, x0, x1):
    """Recompute C and P for the front pixels inside a region (the local update).

    Bumps each one's ``version`` (older heap entries become stale), lists it in
    ``updated`` and returns how many there are. Per-hole arrays are indexed by ``hid``.
    """
    count = 0
    for y in range(y0, y1):
        for x in range(x0, x1):
            i = y * width + x
            h = hid[i]
            if h >= 0 and front_where[h] >= 0:
                conf, prio = patch_priority(i, height, width, half, hole, hid, confidence,
                                            weights, luma, stride, alpha, epsilon, iso_radius)
                front_conf[h] = conf
                priority[h] = prio
                version[h] += 1
                updated[count] = i
                count += 1
    return count


@jit
def heap_before(prio_a, tie_a, prio_b, tie_b):
    """Heap order: higher priority first; equal priorities by lower seeded key."""
    return prio_a > prio_b or (prio_a == prio_b and tie_a < tie_b)


@jit
def heap_push(heap_prio, heap_tie, heap_index, heap_version, size, prio, tie, index, ver):
    """Sift-up insertion into the binary max-heap held in four arrays; returns the size."""
    k = size
    while k > 0:
        parent = (k - 1) >> 1
        if not heap_before(prio, tie, heap_prio[parent], heap_tie[parent]):
            break
        heap_prio[k] = heap_prio[parent]
        heap_tie[k] = heap_tie[parent]
        heap_index[k] = heap_index[parent]
        heap_version[k] = heap_version[parent]
        k = parent
    heap_prio[k] = prio
    heap_tie[k] = tie
    heap_index[k] = index
    heap_version[k] = ver
    return size + 1


@jit
def heap_pop(heap_prio, heap_tie, heap_index, heap_version, size):
    """Remove the top of the heap; returns the new size."""
    size -= 1
    if size == 0:
        return 0
    prio = heap_prio[size]
    tie = heap_tie[size]
    index = heap_index[size]
    ver = heap_version[size]
    k = 0
    while True:
        child = 2 * k + 1
        if child >= size:
            break
        if child + 1 < size and heap_before(heap_prio[child + 1], heap_tie[child + 1],
                                            heap_prio[child], heap_tie[child]):
            child += 1
        if not heap_before(heap_prio[child], heap_tie[child], prio, tie):
            break
        heap_prio[k] = heap_prio[child]
        heap_tie[k] = heap_tie[child]
        heap_index[k] = heap_index[child]
        heap_version[k] = heap_version[child]
        k = child
    heap_prio[k] = prio
    heap_tie[k] = tie
    heap_index[k] = index
    heap_version[k] = ver
    return size


@jit
def patch_ssd(feat, channels, centre, offsets, values, weights, count, bound):
    """Distance between the source patch at ``centre`` and the target's pixels.

    ``offsets[k]`` is the flat pixel offset of the k-th compared target pixel and
    ``values[k * channels + c]`` its value. A known target pixel (``weights[k]`` > 0)
    adds its squared difference times ``weights[k]``. An unknown one (``weights[k]``
    = -w < 0) holds a first estimate of the hole: those are compared in the mean, not
    pixel by pixel: per channel, (sum_k w_k d_k)^2 / sum_k w_k is added, so a source
    that would put another brightness or colour there loses, while its texture and
    phase are free. Stops as soon as the partial sum exceeds ``bound`` (the sum only
    grows), returning a value above ``bound``. ``channels`` is at most 3.
    """
    total = 0.0
    base = centre * channels
    guide_total = 0.0
    mean0 = 0.0
    mean1 = 0.0
    mean2 = 0.0
    for k in range(count):
        b = base + offsets[k] * channels
        t = k * channels
        w = weights[k]
        if w < 0.0:
            mean0 -= w * (feat[b] - values[t])
            if channels > 1:
                mean1 -= w * (feat[b + 1] - values[t + 1])
                mean2 -= w * (feat[b + 2] - values[t + 2])
            guide_total -= w
            continue
        part = 0.0
        for c in range(channels):
            d = feat[b + c] - values[t + c]
            part += d * d
        total += w * part
        if total > bound:
            return total
    if guide_total > 0.0:
        total += (mean0 * mean0 + mean1 * mean1 + mean2 * mean2) / guide_total
    return total


@jit
def is_better(ssd, dist, tie, best_ssd, best_dist, best_tie):
    """Lexicographic order (SSD, squared distance to the target, seeded tie key)."""
    if ssd != best_ssd:
        return ssd < best_ssd
    if dist != best_dist:
        return dist < best_dist
    return tie < best_tie


@jit
def search_row(feat, channels, width, valid, tie_key, target_y, target_x, y, x0, x1,
               offsets, values, weights, count, bound):
    """Best source centre in row ``y``, columns [x0, x1), whose SSD is at most ``bound``.

    Returns (ssd, squared distance, tie key, centre, number of valid centres seen);
    centre -1 when none qualifies.
    """
    seen = 0
    best_ssd = bound
    best_dist = _BIG
    best_tie = _BIG
    best = -1
    for x in range(x0, x1):
        centre = y * width + x
        if valid[centre] == 0:
            continue
        seen += 1
        ssd = patch_ssd(feat, channels, centre, offsets, values, weights, count, best_ssd)
        if ssd > best_ssd:
            continue
        dist = (y - target_y) * (y - target_y) + (x - target_x) * (x - target_x)
        if is_better(ssd, dist, tie_key[centre], best_ssd, best_dist, best_tie):
            best_ssd = ssd
            best_dist = dist
            best_tie = tie_key[centre]
            best = centre
    return best_ssd, best_dist, best_tie, best, seen


@jit_parallel
def search_rows_parallel(feat, channels, width, valid, tie_key, target_y, target_x, y0, y1,
                         x0, x1, offsets, values, weights, count, bound, row_ssd, row_dist, row_tie,
                         row_index, row_seen):
    """Best source centre of each row of the window [y0, y1) x [x0, x1), rows in parallel.

    Each row starts from the same ``bound`` and keeps its own, so every row's answer,
    and the serial merge of the rows in the caller, do not depend on the thread count.
    """
    for r in prange(y1 - y0):
        row_ssd[r], row_dist[r], row_tie[r], row_index[r], row_seen[r] = search_row(
            feat, channels, width, valid, tie_key, target_y, target_x, y0 + r, x0, x1,
            offsets, values, weights, count, bound)


@jit
def search_rows_serial(feat, channels, width, valid, tie_key, target_y, target_x, y0, y1,
                       x0, x1, offsets, values, weights, count, bound, row_ssd, row_dist, row_tie,
                       row_index, row_seen):
    """The same as :func:`search_rows_parallel` on one thread, for small windows where
    starting the threads costs more than the search."""
    # A row may start from the best SSD so far: that prunes more, and since equal SSDs
    # are never pruned the merged answer is the one the parallel version gives.
    for r in range(y1 - y0):
        row_ssd[r], row_dist[r], row_tie[r], row_index[r], row_seen[r] = search_row(
            feat, channels, width, valid, tie_key, target_y, target_x, y0 + r, x0, x1,
            offsets, values, weights, count, bound)
        if row_index[r] >= 0 and row_ssd[r] < bound:
            bound = row_ssd[r]


@jit
def initialise(luma, stride, hole, hid, height, width, weights, confidence, front_pos,
               front_where, counters, front_conf, priority, version, updated, half, alpha,
               epsilon, iso_radius, y0, y1, x0, x1):
    """Set-up on the region [y0, y1) x [x0, x1) that holds the hole: the front and its
    priorities."""
    front_region(hole, hid, height, width, front_pos, front_where, counters, y0, y1, x0, x1)
    priority_region(height, width, half, hole, hid, confidence, weights, luma, stride, alpha,
                    epsilon, iso_radius, front_where, front_conf, priority, version, updated,
                    y0, y1, x0, x1)


@jit
def fill_steps(feat, luma, stride, copy_luma, hole, hid, valid, tie_key, height, width,
               channels, weights, confidence, front_pos, front_where, counters, front_conf,
               priority, version, updated, source, fill_order, half, window, source_distance,
               min_candidates, parallel_min, alpha, epsilon, iso_radius, max_steps,
               guide_weight, depth, copy_half, full, limits):
    """Run up to ``max_steps`` Criminisi iterations; return the number run.

    One iteration: take the front pixel of highest priority (ties: lower seeded key),
    find the best source patch (the coherence candidates - the sources of the target's
    already filled pixels, shifted to continue them - then a window of half-size
    ``window`` around the target - widened to reach past ``source_distance`` (the
    chessboard distance to the nearest source centre) - doubled until it holds
    ``min_candidates`` source centres; ``window >= max(H, W)`` is the exhaustive search
    of the paper), copy its pixels into the unknown part of the
    target patch, give them the target's confidence (eq. 4 of the paper), and update the
    front and priorities around the patch only.

    Per-pixel arrays: ``feat`` (features, channels last), ``hole`` (current), ``hid``
    (each input hole pixel's number, -1 elsewhere), ``valid``, ``tie_key``, and, when
    ``copy_luma``, ``luma`` (else ``luma`` is ``feat`` read with ``stride``). Every
    other array is indexed by hole number: ``confidence``, ``front_where``,
    ``front_conf``, ``priority``, ``version``, ``source`` (the pixel each was copied
    from), ``fill_order``, ``source_distance``, ``depth``; ``front_pos`` and
    ``updated`` list pixels.

    The arrays may be a crop of the image: ``full`` is the image's larger side (where
    windows stop growing), and every source centre a step would consider (its
    window's rows ``[ty - reach, ty + reach]``, and the coherence candidates) must lie
    in rows ``[limits[0], limits[1])`` and columns ``[limits[2], limits[3])``; the
    step returns -2 instead (the wrapper then takes a larger crop). The limits are
    out of reach on the image's own borders, and ``half`` inside the crop's others,
    so a crop computes what the image would, bit for bit.

    Windows with at least ``parallel_min`` candidates are searched in parallel.
    ``counters`` holds [front size, steps done, pixels filled]. Where
    ``guide_weight[depth[hid[j]]]`` > 0 (``depth`` is each pixel's distance into the
    original hole, uint8, and ``guide_weight`` a table over it), ``feat`` holds a
    first estimate of unknown pixel j, and the patch distance also compares the
    target's unknown pixels with it, at that weight. Only the unknown pixels within
    ``copy_half`` of the target's centre are copied.
    """
    side = 2 * half + 1
    offsets = np.empty(side * side, np.int64)
    values = np.empty(side * side * channels, np.float64)
    pixel_weights = np.empty(side * side, np.float64)
    sorted_weights = np.empty(side * side, np.float64)
    sorted_offsets = np.empty(side * side, np.int64)
    sorted_values = np.empty(side * side * channels, np.float64)
    deviation = np.empty(side * side, np.float64)
    tried = np.empty(side * side, np.int64)
    means = np.empty(channels, np.float64)
    row_ssd = np.empty(height, np.float64)
    row_dist = np.empty(height, np.int64)
    row_tie = np.empty(height, np.int64)
    row_index = np.empty(height, np.int64)
    row_seen = np.empty(height, np.int64)
    radius = weights.shape[0] // 2
    reach = max(half + 1, radius + 1)

    # The front as a max-heap with lazy deletion: an entry is current while its version
    # matches the pixel's and the pixel is still on the front.
    capacity = max(2 * counters[0], 1024)
    heap_prio = np.empty(capacity, np.float64)
    heap_tie = np.empty(capacity, np.int64)
    heap_index = np.empty(capacity, np.int64)
    heap_version = np.empty(capacity, np.int64)
    size = 0
    for k in range(counters[0]):
        i = front_pos[k]
        size = heap_push(heap_prio, heap_tie, heap_index, heap_version, size,
                         priority[hid[i]], tie_key[i], i, version[hid[i]])

    done = 0
    while done < max_steps and counters[0] > 0:
        step = counters[1]
        # 1. Highest priority on the front.
        while True:
            target = heap_index[0]
            current = front_where[hid[target]] >= 0 and heap_version[0] == version[hid[target]]
            if current:
                break
            size = heap_pop(heap_prio, heap_tie, heap_index, heap_version, size)
        ty = target // width
        tx = target - ty * width
        ya = max(ty - half, 0)
        yb = min(ty + half + 1, height)
        xa = max(tx - half, 0)
        xb = min(tx + half + 1, width)

        # 2. The target's known pixels (and, guided, its unknown ones at their first
        # estimate), as flat offsets from its centre.
        count = 0
        for y in range(ya, yb):
            for x in range(xa, xb):
                j = y * width + x
                if hole[j] == 0 or guide_weight[depth[hid[j]]] > 0.0:
                    offsets[count] = (y - ty) * width + (x - tx)
                    pixel_weights[count] = 1.0 if hole[j] == 0 else -guide_weight[depth[hid[j]]]
                    for c in range(channels):
                        values[count * channels + c] = feat[j * channels + c]
                    count += 1

        # Compare the pixels farthest from the patch mean first: a poor candidate then
        # exceeds the bound after a few pixels (early termination), not after most.
        if count > 1:
            for c in range(channels):
                mean = 0.0
                for k in range(count):
                    mean += values[k * channels + c]
                means[c] = mean / count
            for k in range(count):
                dev = 0.0
                for c in range(channels):
                    d = values[k * channels + c] - means[c]
                    dev += d * d
                deviation[k] = -dev if pixel_weights[k] > 0.0 else 0.0
            order = np.argsort(deviation[:count], kind="mergesort")
            for k in range(count):
                sorted_offsets[k] = offsets[order[k]]
                sorted_weights[k] = pixel_weights[order[k]]
                for c in range(channels):
                    sorted_values[k * channels + c] = values[order[k] * channels + c]
            for k in range(count):
                offsets[k] = sorted_offsets[k]
                pixel_weights[k] = sorted_weights[k]
                for c in range(channels):
                    values[k * channels + c] = sorted_values[k * channels + c]

        # 3a. Coherence candidates: where the target's filled neighbours came from.
        best = -1
        best_ssd = np.inf
        best_dist = _BIG
        best_tie = _BIG
        n_tried = 0
        for y in range(ya, yb):
            for x in range(xa, xb):
                j = y * width + x
                if hole[j] or hid[j] < 0:  # unknown, or known in the input
                    continue
                # The source that continues neighbour j's patch exactly (Ashikhmin).
                s = source[hid[j]]
                sy = s // width
                cy = ty + sy - y
                cx = tx + (s - sy * width) - x
                if cy < limits[0] or cy >= limits[1] or cx < limits[2] or cx >= limits[3]:
                    return -2  # beyond the crop's known part: a larger crop is needed
                if cy < 0 or cy >= height or cx < 0 or cx >= width:
                    continue
                centre = cy * width + cx
                if valid[centre] == 0:
                    continue
                seen_before = False
                for k in range(n_tried):
                    if tried[k] == centre:
                        seen_before = True
                        break
                if seen_before:
                    continue
                tried[n_tried] = centre
                n_tried += 1
                ssd = patch_ssd(feat, channels, centre, offsets, values, pixel_weights, count,
                                best_ssd)
                if ssd > best_ssd:
                    continue
                dist = (cy - ty) * (cy - ty) + (cx - tx) * (cx - tx)
                if is_better(ssd, dist, tie_key[centre], best_ssd, best_dist, best_tie):
                    best, best_ssd, best_dist, best_tie = centre, ssd, dist, tie_key[centre]

        # 3b. Window search, grown until some source fits.
        reach_w = max(window, source_distance[hid[target]] + half)
        while True:
            if (ty - reach_w < limits[0] or ty + reach_w + 1 > limits[1]
                    or tx - reach_w < limits[2] or tx + reach_w + 1 > limits[3]):
                return -2  # the window leaves the crop: a larger crop is needed
            wy0 = max(ty - reach_w, 0)
            wy1 = min(ty + reach_w + 1, height)
            wx0 = max(tx - reach_w, 0)
            wx1 = min(tx + reach_w + 1, width)
            if (wy1 - wy0) * (wx1 - wx0) >= parallel_min:
                search_rows_parallel(feat, channels, width, valid, tie_key, ty, tx, wy0, wy1,
                                     wx0, wx1, offsets, values, pixel_weights, count, best_ssd, row_ssd,
                                     row_dist, row_tie, row_index, row_seen)
            else:
                search_rows_serial(feat, channels, width, valid, tie_key, ty, tx, wy0, wy1,
                                   wx0, wx1, offsets, values, pixel_weights, count, best_ssd, row_ssd,
                                   row_dist, row_tie, row_index, row_seen)
            seen = 0
            for r in range(wy1 - wy0):
                seen += row_seen[r]
                if row_index[r] >= 0 and is_better(row_ssd[r], row_dist[r], row_tie[r],
                                                   best_ssd, best_dist, best_tie):
                    best = row_index[r]
                    best_ssd = row_ssd[r]
                    best_dist = row_dist[r]
                    best_tie = row_tie[r]
            if (seen >= min_candidates and best >= 0) or reach_w >= full:
                break
            reach_w = min(2 * reach_w, full)
        if best < 0:  # no source anywhere: the wrapper rules this out
            return -1

        # 4. Copy the source into the unknown part of the target (eq. 4: confidence).
        sy = best // width
        sx = best - sy * width
        conf = front_conf[hid[target]]
        for y in range(max(ty - copy_half, 0), min(ty + copy_half + 1, height)):
            for x in range(max(tx - copy_half, 0), min(tx + copy_half + 1, width)):
                j = y * width + x
                if hole[j] == 0:
                    continue
                s = (y - ty + sy) * width + (x - tx + sx)
                for c in range(channels):
                    feat[j * channels + c] = feat[s * channels + c]
                if copy_luma:
                    luma[j] = luma[s]
                hole[j] = 0
                h = hid[j]
                confidence[h] = conf
                fill_order[h] = step
                source[h] = s
                counters[2] += 1

        # 5. Local updates only: the rest of the image did not change (the smoothed
        # mask and the gradients are computed where the priorities read them).
        front_region(hole, hid, height, width, front_pos, front_where, counters,
                     max(ya - 1, 0), min(yb + 1, height), max(xa - 1, 0), min(xb + 1, width))
        n_updated = priority_region(height, width, half, hole, hid, confidence, weights,
                                    luma, stride, alpha, epsilon, iso_radius, front_where,
                                    front_conf, priority,
                                    version, updated, max(ya - reach, 0),
                                    min(yb + reach, height), max(xa - reach, 0),
                                    min(xb + reach, width))
        if size + n_updated > capacity:
            capacity = 2 * (size + n_updated)
            heap_prio = _grown(heap_prio, capacity)
            heap_tie = _grown(heap_tie, capacity)
            heap_index = _grown(heap_index, capacity)
            heap_version = _grown(heap_version, capacity)
        for k in range(n_updated):
            i = updated[k]
            size = heap_push(heap_prio, heap_tie, heap_index, heap_version, size,
                             priority[hid[i]], tie_key[i], i, version[hid[i]])
        counters[1] += 1
        done += 1
    return done


@jit
def _grown(array, capacity):
    out = np.empty(capacity, array.dtype)
    out[:array.shape[0]] = array
    return out


@jit
def srgb_to_linear(value):
    """sRGB companding inverse (IEC 61966-2-1), as ``skimage.color.rgb2xyz`` applies it."""
    if value > 0.04045:
        return ((value + 0.055) / 1.055) ** 2.4
    return value / 12.92


@jit
def rgb_to_lab(rgb, out, linear_lut):
    """sRGB in [0, 1] to CIE L*a*b* (D65, 2 degree observer), flat (N * 3) arrays.

    The same formulas and constants as ``skimage.color.rgb2lab``, without its
    temporaries. When ``linear_lut`` has 256 entries the input is 8-bit (values k / 255
    exactly) and ``linear_lut[k]`` is ``srgb_to_linear(k / 255)``: the same numbers,
    without a power per channel.
    """
    use_lut = linear_lut.shape[0] == 256
    for i in range(rgb.shape[0] // 3):
        if use_lut:
            lin0 = linear_lut[int(rgb[3 * i] * 255.0 + 0.5)]
            lin1 = linear_lut[int(rgb[3 * i + 1] * 255.0 + 0.5)]
            lin2 = linear_lut[int(rgb[3 * i + 2] * 255.0 + 0.5)]
        else:
            lin0 = srgb_to_linear(rgb[3 * i])
            lin1 = srgb_to_linear(rgb[3 * i + 1])
            lin2 = srgb_to_linear(rgb[3 * i + 2])
        # linear RGB -> XYZ, scaled by the D65 white point
        x = (0.412453 * lin0 + 0.357580 * lin1 + 0.180423 * lin2) / 0.95047
        y = 0.212671 * lin0 + 0.715160 * lin1 + 0.072169 * lin2
        z = (0.019334 * lin0 + 0.119193 * lin1 + 0.950227 * lin2) / 1.08883
        x = np.cbrt(x) if x > 0.008856 else 7.787 * x + 16.0 / 116.0
        y = np.cbrt(y) if y > 0.008856 else 7.787 * y + 16.0 / 116.0
        z = np.cbrt(z) if z > 0.008856 else 7.787 * z + 16.0 / 116.0
        out[3 * i] = 116.0 * y - 16.0
        out[3 * i + 1] = 500.0 * (x - y)
        out[3 * i + 2] = 200.0 * (y - z)


@jit
def seam_flags(holes, hid, source, height, width, radius, out):
    """``out[h]`` = 1 where input hole pixel ``holes[h]`` lies within (chessboard)
    ``radius`` of a change of source offset between two 4-adjacent hole pixels."""
    count = holes.shape[0]
    change = np.zeros(count, np.uint8)
    for h in range(count):
        i = holes[h]
        y = i // width
        x = i - y * width
        dy = source[h] // width - y
        dx = source[h] - (source[h] // width) * width - x
        for step in range(2):  # the right and lower neighbours
            j = i + 1 if step == 0 else i + width
            if (step == 0 and x + 1 >= width) or (step == 1 and y + 1 >= height):
                continue
            k = hid[j]
            if k < 0:
                continue
            yj = y + step
            xj = x + 1 - step
            if source[k] // width - yj != dy or source[k] - (source[k] // width) * width - xj != dx:
                change[h] = 1
                change[k] = 1
    for h in range(count):
        out[h] = 0
    for h in range(count):
        if change[h] == 0:
            continue
        i = holes[h]
        y = i // width
        x = i - y * width
        for yy in range(max(y - radius, 0), min(y + radius + 1, height)):
            for xx in range(max(x - radius, 0), min(x + radius + 1, width)):
                k = hid[yy * width + xx]
                if k >= 0:
                    out[k] = 1


@jit_strict
def pixel_value(pixels, scale, s, c):
    """Channel ``c`` of pixel ``s`` of the input (``pixels``: (H * W, channels), its own
    dtype) in [0, 1] float64, as ``_image.to_float`` converts it (a true division: no
    fast-math reciprocal)."""
    return np.float64(pixels[s, c]) / scale


@jit_strict
def gather_colours(pixels, scale, source, channels, out):
    """``out[h, c]``: the input colour at hole pixel h's source pixel (a known pixel)."""
    for h in range(source.shape[0]):
        for c in range(channels):
            out[h, c] = pixel_value(pixels, scale, source[h], c)


@jit
def blend_seams(pixels, scale, colour, out, holes, hid, seam, height, width, channels, source,
                weights, colour_sigma):
    """Average, at each filled pixel, what its filled neighbours' offsets would put there.

    ``holes`` lists the input hole pixels, ``hid`` numbers them; ``colour`` (hole
    number, channel) is each one's filled value, ``source`` the pixel it was copied
    from (so its offset), and known pixels are read from the input ``pixels`` (see
    :func:`pixel_value`). ``weights`` is the (2r+1, 2r+1) spatial window. Where all
    filled neighbours within r share one offset this returns the pixel unchanged; at
    offset-map discontinuities (patch seams) it blends the overlapping source
    patches, so block edges do not show. Only pixels flagged in ``seam`` (a filled
    neighbour within r has another offset) are computed; the others are copied.
    Each vote is also weighted by exp(-|vote - pixel|^2 / (2 C colour_sigma^2)), so a
    neighbour's offset that lands on other structure (across an edge) is not mixed in.
    ``out`` may be ``colour`` (a pixel reads known pixels and its own value only).
    """
    radius = weights.shape[0] // 2
    inv = 1.0 / (2.0 * channels * colour_sigma * colour_sigma)
    acc = np.empty(channels)
    for h in range(holes.shape[0]):
        if seam[h] == 0:
            for c in range(channels):
                out[h, c] = colour[h, c]
            continue
        i = holes[h]
        y = i // width
        x = i - y * width
        oy = source[h] // width - y
        ox = source[h] - (source[h] // width) * width - x
        for c in range(channels):
            acc[c] = 0.0
        weight_sum = 0.0
        for dy in range(-radius, radius + 1):
            yy = y + dy
            if yy < 0 or yy >= height:
                continue
            for dx in range(-radius, radius + 1):
                xx = x + dx
                if xx < 0 or xx >= width:
                    continue
                k = hid[yy * width + xx]
                if k < 0:
                    continue
                ky = source[k] // width - yy
                kx = source[k] - (source[k] // width) * width - xx
                sy = y + ky
                sx = x + kx
                if sy < 0 or sy >= height or sx < 0 or sx >= width:
                    continue
                s = sy * width + sx
                if hid[s] >= 0:
                    continue
                w = weights[dy + radius, dx + radius]
                if ky != oy or kx != ox:
                    # another source: its vote may differ from the pixel
                    dist = 0.0
                    for c in range(channels):
                        d = pixel_value(pixels, scale, s, c) - colour[h, c]
                        dist += d * d
                    w *= math.exp(-dist * inv)
                weight_sum += w
                for c in range(channels):
                    acc[c] += w * pixel_value(pixels, scale, s, c)
        # Written last: ``out`` may be ``colour`` itself.
        for c in range(channels):
            out[h, c] = acc[c] / weight_sum
