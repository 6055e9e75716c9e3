"""Numba kernels for PatchMatch: random streams, NNF initialisation, search and voting.

Nothing here validates user input; :mod:`inpaintkit.algorithms.patchmatch` prepares
contiguous arrays of the right dtypes and calls these kernels.

Conventions shared by the kernels:

- Feature images are float32, flattened to (H, W * C) so that one patch row is one
  contiguous run of ``(2 r + 1) * C`` values (vectorises well).
- An NNF is int32 (H, W, 2): the (row, col) of the source patch centre matched to
  each target patch centre. ``r`` is the patch radius, the patch side is ``2 r + 1``.
- ``src_ok[y, x]`` is True where a source patch centred at (y, x) lies inside the
  source and touches no invalid pixel; only such centres are ever stored.
- A distance is the sum of squared differences over the target patch's counted
  pixels (inside the target and valid), divided by their number ``count[y, x]``.
- Random numbers come from 32-bit xorshift streams seeded per row band, so results
  do not depend on the thread count (the tests re-implement them in plain Python).
- The search kernel :func:`nnf_iterate` runs its row bands with ``prange``, dealt
  round-robin to one slot per thread (Numba's parallel compilation of it runs about
  18 % faster per thread than the serial one, measured on one thread). The other pass kernels are serial and release the GIL;
  each takes ``start, step`` and does rows ``start, start + step, ...`` only, so
  that :func:`._jit.run_strided` runs one call per thread on interleaved rows. Rows
  (and bands) never depend on each other within a pass, so any split gives the same
  result. One kernel per pass, not a serial and a parallel twin, cuts the first
  call's JIT compile time to about 40 % (33 s to 14 s on the benchmark's first call).
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from ._jit import FASTMATH, jit, jit_parallel, jit_strict, prange

#: The search's per-candidate helpers, inlined into their callers at Numba's IR level:
#: as separate functions each call took and released references to its array
#: arguments (NRT increfs/decrefs, atomic operations), about 16 % of the search's time
#: (1239x1841 level, one thread: 2.55 -> 2.15 CPU s); the same results bit for bit.
jit_inline = numba.njit(cache=True, fastmath=FASTMATH, nogil=True, inline="always")

_MASK32 = 0xFFFFFFFF


@jit
def hash32(value):
    """Mix an integer into 32 bits (a multiply-xorshift hash; keeps products < 2**63)."""
    x = value & _MASK32
    x ^= x >> 16
    x = (x * 0x045D9F3B) & _MASK32
    x ^= x >> 16
    x = (x * 0x045D9F3B) & _MASK32
    x ^= x >> 16
    return x


@jit
def stream_seed(seed, salt, index):
    """Start state of the random stream number ``index`` of a call (never zero)."""
    state = hash32(hash32(hash32(seed) ^ (salt & _MASK32)) ^ (index & _MASK32))
    if state == 0:
        state = 0x6D2B79F5
    return state


@jit
def xorshift32(state):
    """Marsaglia's xorshift32 step; ``state`` stays in [1, 2**32)."""
    state ^= (state << 13) & _MASK32
    state ^= state >> 17
    state ^= (state << 5) & _MASK32
    return state


@jit
def bilinear_cell(py, px, height, width):
    """The 2x2 cell and bilinear weights of the sample at (py, px), inside an image of
    ``height`` x ``width`` (the caller has checked the bounds): ``(y0, x0, w00, w01,
    w10, w11)``, weights of (y0, x0), (y0, x0 + 1), (y0 + 1, x0), (y0 + 1, x0 + 1).
    The last row and column use the cell before them, so an integer sample there
    reads one pixel with weight 1. Shared by the warped searches of melding and
    planar."""
    y0 = min(int(py), height - 2)
    x0 = min(int(px), width - 2)
    fy = py - y0
    fx = px - x0
    return (y0, x0, (1.0 - fy) * (1.0 - fx), (1.0 - fy) * fx, fy * (1.0 - fx), fy * fx)


#: Rows of each random candidate's source patch that the search prefetches.
_PREFETCH_ROWS = 2


@intrinsic
def prefetch(typingctx, array, row, col):
    """Hint the CPU to fetch ``array[row, col]``'s cache line (a 2-D array): LLVM's
    ``llvm.prefetch`` (read, high locality). No effect on any result; the caller
    keeps the index inside the array."""
    if not (isinstance(array, types.Array) and array.ndim == 2):
        return None
    signature = types.void(array, row, col)

    def codegen(context, builder, sig, args):
        arrayty, rowty, colty = sig.args
        data = context.make_array(arrayty)(context, builder, args[0])
        index = [context.cast(builder, args[1], rowty, types.intp),
                 context.cast(builder, args[2], colty, types.intp)]
        pointer = cgutils.get_item_pointer(context, builder, arrayty, data, index,
                                           wraparound=False)
        byte_pointer = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        function = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [byte_pointer, i32, i32, i32]),
            "llvm.prefetch.p0")
        builder.call(function, [builder.bitcast(pointer, byte_pointer), ir.Constant(i32, 0),
                                ir.Constant(i32, 3), ir.Constant(i32, 1)])
        return context.get_dummy_value()

    return signature, codegen


@jit
def bilinear_sample(image, py, px, c):
    """Bilinear sample of channel ``c`` of ``image`` (H, W, C) at (py, px), the point
    first clamped into the image (the cell as in :func:`bilinear_cell`). Shared by
    the warped votes of melding and planar."""
    height = image.shape[0]
    width = image.shape[1]
    py = min(max(py, 0.0), height - 1.0)
    px = min(max(px, 0.0), width - 1.0)
    y0 = min(int(py), height - 2)
    x0 = min(int(px), width - 2)
    fy = py - y0
    fx = px - x0
    top = image[y0, x0, c] * (1.0 - fx) + image[y0, x0 + 1, c] * fx
    bottom = image[y0 + 1, x0, c] * (1.0 - fx) + image[y0 + 1, x0 + 1, c] * fx
    return top * (1.0 - fy) + bottom * fy


@jit
def patch_ssd_full(src, tgt, sy, sx, ty, tx, r, channels, limit):
    """SSD of two patches that lie fully inside both images (no validity checks).

    Stops after the first patch row whose running sum exceeds ``limit`` (early
    termination, Barnes et al. 2009 sec. 3.2): the caller only needs to know it lost.
    """
    row_len = (2 * r + 1) * channels
    s0 = (sx - r) * channels
    t0 = (tx - r) * channels
    total = np.float32(0.0)
    for dy in range(-r, r + 1):
        src_row = src[sy + dy]
        tgt_row = tgt[ty + dy]
        for k in range(row_len):
            diff = src_row[s0 + k] - tgt_row[t0 + k]
            total += diff * diff
        if total > limit:
            return total
    return total


@jit
def patch_ssd_partial(src, tgt, tgt_valid, sy, sx, ty, tx, r, channels, limit):
    """SSD over the target patch pixels that are inside the target and valid."""
    height = tgt_valid.shape[0]
    width = tgt_valid.shape[1]
    total = np.float32(0.0)
    for dy in range(-r, r + 1):
        yy = ty + dy
        if yy < 0 or yy >= height:
            continue
        src_row = src[sy + dy]
        tgt_row = tgt[yy]
        for dx in range(-r, r + 1):
            xx = tx + dx
            if xx < 0 or xx >= width or not tgt_valid[yy, xx]:
                continue
            s0 = (sx + dx) * channels
            t0 = xx * channels
            for c in range(channels):
                diff = src_row[s0 + c] - tgt_row[t0 + c]
                total += diff * diff
        if total > limit:
            return total
    return total


@jit_inline
def patch_distance(src, tgt, tgt_valid, count, sy, sx, ty, tx, r, channels, best):
    """Normalised distance of source patch (sy, sx) to target patch (ty, tx).

    ``best`` is the distance to beat; the SSD stops early once it cannot (the value
    returned is then only known to be >= ``best``).
    """
    n = count[ty, tx]
    if n == 0:
        return np.float32(0.0)
    limit = best * np.float32(n)
    side = 2 * r + 1
    if n == side * side:
        ssd = patch_ssd_full(src, tgt, sy, sx, ty, tx, r, channels, limit)
    else:
        ssd = patch_ssd_partial(src, tgt, tgt_valid, sy, sx, ty, tx, r, channels, limit)
    return ssd / np.float32(n)


@jit
def _fill_invalid_row(nnf, active, src_ok, coords, seed, y):
    width = nnf.shape[1]
    src_h = src_ok.shape[0]
    src_w = src_ok.shape[1]
    n_coords = coords.shape[0]
    state = stream_seed(seed, 0x1234567, y)
    for x in range(width):
        if not active[y, x]:
            continue
        sy = nnf[y, x, 0]
        sx = nnf[y, x, 1]
        if 0 <= sy < src_h and 0 <= sx < src_w and src_ok[sy, sx]:
            continue
        state = xorshift32(state)
        k = state % n_coords
        nnf[y, x, 0] = coords[k, 0]
        nnf[y, x, 1] = coords[k, 1]


@jit
def nnf_fill_invalid(nnf, active, src_ok, coords, seed, start, step):
    """Give every active entry that is not a valid source centre a random valid one.

    ``coords`` (N, 2) int32 lists the valid source centres (N >= 1). One random stream
    per target row, so the result does not depend on the thread count.
    """
    for y in range(start, nnf.shape[0], step):
        _fill_invalid_row(nnf, active, src_ok, coords, seed, y)


@jit
def _distances_row(src, tgt, tgt_valid, count, nnf, active, r, channels, dist, y):
    for x in range(nnf.shape[1]):
        if active[y, x]:
            dist[y, x] = patch_distance(src, tgt, tgt_valid, count, np.int64(nnf[y, x, 0]),
                                        np.int64(nnf[y, x, 1]), y, x, r, channels,
                                        np.float32(np.inf))
        else:
            dist[y, x] = np.float32(np.inf)


@jit
def nnf_distances(src, tgt, tgt_valid, count, nnf, active, r, channels, dist, start, step):
    """Exact distance of every active entry of ``nnf`` (inactive ones get +inf)."""
    for y in range(start, nnf.shape[0], step):
        _distances_row(src, tgt, tgt_valid, count, nnf, active, r, channels, dist, y)


@jit_inline
def _try_candidate(src, tgt, tgt_valid, count, cy, cx, y, x, r, channels,
                   best_y, best_x, best_d, min_offset2=0):
    """The better of the current best and source centre (cy, cx) for target (y, x).

    The candidate must already be a valid source centre; it is compared only if it
    differs from the current best and lies at least ``sqrt(min_offset2)`` pixels
    from (y, x) (0: anywhere).
    """
    if min_offset2 > 0 and (cy - y) * (cy - y) + (cx - x) * (cx - x) < min_offset2:
        return best_y, best_x, best_d
    if cy != best_y or cx != best_x:
        d = patch_distance(src, tgt, tgt_valid, count, cy, cx, y, x, r, channels, best_d)
        if d < best_d:
            return cy, cx, d
    return best_y, best_x, best_d


@jit
def _iterate_band(src, tgt, tgt_valid, count, src_ok, active, nnf, dist, snapshot,
                  r, channels, iteration, seed, band_height, samples, band, min_offset2=0):
    """Propagation and random search over the rows of one band (see nnf_iterate)."""
    height = nnf.shape[0]
    width = nnf.shape[1]
    src_h = src_ok.shape[0]
    src_w = src_ok.shape[1]
    forward = iteration % 2 == 0
    step = 1 if forward else -1
    offset = (band_height // 2) if (iteration % 2 == 1) else 0
    y_lo = r
    y_hi = src_h - 1 - r
    x_lo = r
    x_hi = src_w - 1 - r
    max_radius = max(src_h, src_w)
    band_start = max(0, band * band_height - offset)
    band_stop = min(height, (band + 1) * band_height - offset)
    state = stream_seed(seed, iteration, band)
    # The random search's offsets of one pixel (two per candidate): drawn before
    # its candidates are tried, so that their first patch rows can be prefetched.
    n_draws = 0
    radius = max_radius
    while radius >= 1:
        n_draws += samples
        radius //= 2
    draws = np.empty((max(n_draws, 1), 2), dtype=np.int64)
    row_len = (2 * r + 1) * channels
    for i in range(band_stop - band_start):
        y = band_start + i if forward else band_stop - 1 - i
        for j in range(width):
            x = j if forward else width - 1 - j
            if not active[y, x] or count[y, x] == 0:
                continue
            # Coordinates are int64 throughout, so each helper compiles once.
            best_y = np.int64(nnf[y, x, 0])
            best_x = np.int64(nnf[y, x, 1])
            best_d = dist[y, x]

            # Propagation along the row: the neighbour is in this band.
            nx = x - step
            if 0 <= nx < width and active[y, nx]:
                cy = np.int64(nnf[y, nx, 0])
                cx = np.int64(nnf[y, nx, 1]) + step
                if x_lo <= cx <= x_hi and src_ok[cy, cx]:
                    best_y, best_x, best_d = _try_candidate(
                        src, tgt, tgt_valid, count, cy, cx, y, x, r, channels,
                        best_y, best_x, best_d, min_offset2)
            # Propagation along the column: the neighbour may be in another band.
            ny = y - step
            if 0 <= ny < height and active[ny, x]:
                if band_start <= ny < band_stop:
                    cy = np.int64(nnf[ny, x, 0]) + step
                    cx = np.int64(nnf[ny, x, 1])
                else:
                    cy = np.int64(snapshot[ny, x, 0]) + step
                    cx = np.int64(snapshot[ny, x, 1])
                if y_lo <= cy <= y_hi and src_ok[cy, cx]:
                    best_y, best_x, best_d = _try_candidate(
                        src, tgt, tgt_valid, count, cy, cx, y, x, r, channels,
                        best_y, best_x, best_d, min_offset2)

            # Random search around the current best with halving radius, ``samples``
            # candidates per radius. The offsets are drawn first (the stream is the
            # same), and the first two rows of each candidate's patch around the best
            # so far are prefetched: the candidates lie anywhere in the source and
            # the search waited on memory for most of its time. Where a candidate
            # wins, the later ones move with the best and miss their prefetch only.
            radius = max_radius
            k = 0
            while radius >= 1:
                for _ in range(samples):
                    # Uniform in [-radius, radius] by multiply-shift (no division).
                    span = 2 * radius + 1
                    state = xorshift32(state)
                    draws[k, 0] = ((state * span) >> 32) - radius
                    state = xorshift32(state)
                    draws[k, 1] = ((state * span) >> 32) - radius
                    cy = min(max(best_y + draws[k, 0], y_lo), y_hi)
                    cx = min(max(best_x + draws[k, 1], x_lo), x_hi)
                    prefetch(src_ok, cy, cx)
                    first = (cx - r) * channels
                    for dy in range(_PREFETCH_ROWS):
                        for offset in range(0, row_len + 15, 16):
                            prefetch(src, cy - r + dy, first + min(offset, row_len - 1))
                    k += 1
                radius //= 2
            for k in range(n_draws):
                cy = min(max(best_y + draws[k, 0], y_lo), y_hi)
                cx = min(max(best_x + draws[k, 1], x_lo), x_hi)
                if src_ok[cy, cx]:
                    best_y, best_x, best_d = _try_candidate(
                        src, tgt, tgt_valid, count, cy, cx, y, x, r, channels,
                        best_y, best_x, best_d, min_offset2)

            nnf[y, x, 0] = best_y
            nnf[y, x, 1] = best_x
            dist[y, x] = best_d


@jit
def _band_count(height, band_height, iteration):
    offset = (band_height // 2) if (iteration % 2 == 1) else 0
    return (height + offset + band_height - 1) // band_height


@jit_parallel
def nnf_iterate(src, tgt, tgt_valid, count, src_ok, active, nnf, dist, snapshot,
                r, channels, iteration, seed, band_height, samples, min_offset2=0, threads=1):
    """One PatchMatch iteration: propagation then random search (Barnes et al. 2009).

    Even iterations scan top-left to bottom-right and propagate from the left and
    upper neighbours (eq. 1: candidates f(x - 1, y) + (1, 0), f(x, y - 1) + (0, 1));
    odd iterations scan in reverse and propagate from the right and lower ones.
    Random search then tries ``v0 + w alpha^i R_i`` with ``alpha = 1/2`` and ``w`` the
    source size, ``R_i`` uniform in [-1, 1]^2 (eq. 2), until the radius is below 1;
    ``samples`` candidates per radius (the paper draws one), each around the best
    so far.

    Rows are split into bands of ``band_height`` (offset by half a band on odd
    iterations so that band borders move) processed in parallel. A band reads
    neighbours inside itself from ``nnf`` (updated in scan order) and neighbours in
    other bands from ``snapshot``, the NNF before this iteration; each band has its
    own random stream. So the result depends on ``seed``, ``iteration`` and
    ``band_height`` only, never on ``threads``, the number of slots the bands are
    dealt to round-robin, one per thread (``numba.get_num_threads()`` is passed in:
    called here, it would keep the kernel out of Numba's cache). Candidates closer
    to the target than ``sqrt(min_offset2)`` are never taken (He and Sun 2012's
    offset statistics match each patch to a similar one at least that far away).
    """
    n_bands = _band_count(nnf.shape[0], band_height, iteration)
    # One slot per thread, each taking every ``slots``-th band: prange hands each
    # thread a contiguous run of its range, so a prange over the bands themselves
    # gave every band with work to one thread when the hole lay in one half of the
    # image (the benchmark's scaling hole lies wholly in the lower half).
    slots = max(1, min(threads, n_bands))
    for slot in prange(slots):
        for band in range(slot, n_bands, slots):
            _iterate_band(src, tgt, tgt_valid, count, src_ok, active, nnf, dist, snapshot,
                          r, channels, iteration, seed, band_height, samples, band,
                          min_offset2)


@jit
def _vote_weights_row(dist, active, confidence, inv_two_sigma2, out, y):
    for x in range(dist.shape[1]):
        if active[y, x]:
            out[y, x] = np.exp(-min(dist[y, x] * inv_two_sigma2, 50.0)) * confidence[y, x]
        else:
            out[y, x] = 0.0


@jit
def vote_weights(dist, active, confidence, inv_two_sigma2, out, start, step):
    """Wexler et al. 2007 similarity times confidence, for active patches only:
    ``exp(-min(d / 2 sigma^2, 50)) * confidence`` (the cap keeps weights from
    underflowing, so a pixel whose patches all match badly still gets their mean)."""
    for y in range(start, dist.shape[0], step):
        _vote_weights_row(dist, active, confidence, inv_two_sigma2, out, y)


@jit
def _vote_weighted_row(colour, nnf, weight, active, hole, r, out, y, acc):
    height = hole.shape[0]
    width = hole.shape[1]
    channels = colour.shape[2]
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
                sy = nnf[qy, qx, 0] + (y - qy)
                sx = nnf[qy, qx, 1] + (x - qx)
                for c in range(channels):
                    acc[c] += w * colour[sy, sx, c]
                total += w
        # Not just > 0: with fastmath's reciprocal a denormal total gives inf * 0.
        if total > 1e-200:
            for c in range(channels):
                out[y, x, c] = acc[c] / total
        else:
            for c in range(channels):
                out[y, x, c] = colour[y, x, c]


@jit
def vote_weighted(colour, nnf, weight, active, hole, r, out, start, step):
    """Wexler et al. 2007 voting (eq. 3): each hole pixel becomes the weighted mean of
    the pixels that the overlapping target patches' source patches put there.

    ``colour`` (Hs, Ws, C) float source colours, ``weight`` (H, W) per target
    patch, ``out`` (H, W, C) is written at hole pixels only.
    """
    acc = np.zeros(colour.shape[2])
    for y in range(start, hole.shape[0], step):
        _vote_weighted_row(colour, nnf, weight, active, hole, r, out, y, acc)


@jit
def _vote_best_row(colour, nnf, dist, active, hole, r, out, y):
    height = hole.shape[0]
    width = hole.shape[1]
    channels = colour.shape[2]
    for x in range(width):
        if not hole[y, x]:
            continue
        best = np.inf
        best_y = -1
        best_x = -1
        for qy in range(max(0, y - r), min(height, y + r + 1)):
            for qx in range(max(0, x - r), min(width, x + r + 1)):
                if active[qy, qx] and dist[qy, qx] < best:
                    best = dist[qy, qx]
                    best_y = nnf[qy, qx, 0] + (y - qy)
                    best_x = nnf[qy, qx, 1] + (x - qx)
        if best_y >= 0:
            for c in range(channels):
                out[y, x, c] = colour[best_y, best_x, c]


@jit
def vote_best(colour, nnf, dist, active, hole, r, out, start, step):
    """Each hole pixel takes its value from the best-matching overlapping patch.

    The overlapping target patch with the smallest distance wins (ties: the first in
    row-major order); used at the finest level, where the weighted mean would blur.
    """
    for y in range(start, hole.shape[0], step):
        _vote_best_row(colour, nnf, dist, active, hole, r, out, y)


@jit_strict
def guided_differences(values, hole, sources, top, left, channels, ys, xs, out):
    """The gradient-domain vote's right-hand side at hole pixels ``(ys[i], xs[i])`` of
    a box whose corner is ``(top, left)`` in the level: ``out[i, c]`` (float64) is
    ``-sum_q D(p, q)`` over the 4 neighbours ``q`` inside the level, in the order
    right, left, down, up. ``D(p, q)`` is the difference of ``values`` (any float
    type, read as float64) at q's and p's places in p's source ``sources[p]``
    (level coordinates, clamped to the level), and, where q is in the hole too, the
    mean of that and the same difference in q's source. Strict IEEE arithmetic in
    the order of :func:`..patchmatch._guided_differences`'s NumPy original (kept in
    the tests as the reference), so the two agree bit for bit. ``sources`` and the
    box coordinates cover the box, which holds the ring around its hole."""
    height = hole.shape[0]
    width = hole.shape[1]
    for i in range(ys.shape[0]):
        y = ys[i]
        x = xs[i]
        sy = np.int64(sources[y, x, 0])
        sx = np.int64(sources[y, x, 1])
        for c in range(channels):
            out[i, c] = 0.0
        for step in range(4):
            dy = 0 if step < 2 else (1 if step == 2 else -1)
            dx = (1 if step == 0 else -1) if step < 2 else 0
            qy = y + dy
            qx = x + dx
            if qy + top < 0 or qy + top >= height or qx + left < 0 or qx + left >= width:
                continue
            ay = min(max(sy + dy, 0), height - 1)
            ax = min(max(sx + dx, 0), width - 1)
            both = hole[qy + top, qx + left]
            ty = 0
            tx = 0
            by = 0
            bx = 0
            if both:
                ty = np.int64(sources[qy, qx, 0])
                tx = np.int64(sources[qy, qx, 1])
                by = min(max(ty - dy, 0), height - 1)
                bx = min(max(tx - dx, 0), width - 1)
            for c in range(channels):
                diff = np.float64(values[ay, ax, c]) - np.float64(values[sy, sx, c])
                if both:
                    diff = 0.5 * ((diff + np.float64(values[ty, tx, c]))
                                  - np.float64(values[by, bx, c]))
                out[i, c] -= diff
