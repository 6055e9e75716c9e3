"""Numba kernels of the PDE diffusion family (harmonic, biharmonic, TV, transport).

Every kernel works on the list of hole pixels (row, column) and reads the known
pixels from the full float64 (H, W, C) image, so work grows with the hole, not the
image. The wrappers in :mod:`inpaintkit.algorithms.diffusion` validate and prepare the
arrays; nothing here raises for user errors.

Boundary handling at the image border is the one of ``scipy.ndimage.laplace`` with
``mode="reflect"`` (and so of scikit-image's ``inpaint_biharmonic``): a missing
neighbour is the pixel itself, i.e. the Laplacian is the (negated) graph Laplacian of
the 4-connected pixel grid, a symmetric operator with Neumann boundary conditions.
"""

from __future__ import annotations

import contextlib

import numpy as np

from ._jit import jit, jit_strict, run_strided

# 4-neighbour offsets: up, down, left, right.
_DR = np.array([-1, 1, 0, 0], dtype=np.int64)
_DC = np.array([0, 0, -1, 1], dtype=np.int64)


@jit
def known_range(data, hole):
    """Per-channel (min, max) over the known pixels of ``data`` (H, W, C)."""
    height, width, channels = data.shape
    low = np.full(channels, np.inf)
    high = np.full(channels, -np.inf)
    for i in range(height):
        for j in range(width):
            if not hole[i, j]:
                for c in range(channels):
                    value = data[i, j, c]
                    if value < low[c]:
                        low[c] = value
                    if value > high[c]:
                        high[c] = value
    return low, high


@jit
def hole_index_map(rows, cols, height, width):
    """(H, W) int64 map: index of each hole pixel in (rows, cols), -1 elsewhere."""
    index = np.full((height, width), -1, dtype=np.int64)
    for k in range(rows.shape[0]):
        index[rows[k], cols[k]] = k
    return index


@jit
def _add_laplacian_row(buf, weight, i, j, ci, cj, height, width):
    """Add ``weight`` times row (i, j) of the grid Laplacian into the 5x5 ``buf``.

    ``buf`` is centred on (ci, cj). L[q, q] = -(number of in-image neighbours of q),
    L[q, r] = 1 for each in-image neighbour r: ndimage.laplace with mode="reflect".
    """
    degree = 0
    for n in range(4):
        ni = i + _DR[n]
        nj = j + _DC[n]
        if 0 <= ni < height and 0 <= nj < width:
            degree += 1
            buf[ni - ci + 2, nj - cj + 2] += weight
    buf[i - ci + 2, j - cj + 2] -= weight * degree


@jit
def assemble_system(rows, cols, index, data, order, tension):
    """Assemble the SPD system of harmonic (order 1) or biharmonic (order 2) inpainting.

    The equations are row p of (-L) u = 0 (order 1) or of L^2 u = 0 (order 2) for each
    hole pixel p, with the known pixels moved to the right-hand side. (-L)[H, H] and
    L^2[H, H] are principal submatrices of symmetric positive semi-definite operators
    whose null space (constants) cannot live on the hole alone, so they are SPD.
    With order 2 and ``tension`` T in (0, 1), the row is (1 - T) L^2 - T L: the
    continuous-curvature spline in tension of Smith and Wessel (1990), the
    Euler-Lagrange equation of (1 - T) ||L u||^2 + T ||grad u||^2.

    Returns
    -------
    a_rows, a_cols, a_vals : ndarray
        COO entries of the (n, n) matrix.
    rhs : ndarray, shape (n, C)
    """
    height, width, channels = data.shape
    n = rows.shape[0]
    per_row = 5 if order == 1 else 13
    a_rows = np.empty(n * per_row, dtype=np.int64)
    a_cols = np.empty(n * per_row, dtype=np.int64)
    a_vals = np.empty(n * per_row, dtype=np.float64)
    rhs = np.zeros((n, channels), dtype=np.float64)
    buf = np.zeros((5, 5), dtype=np.float64)
    count = 0
    for k in range(n):
        i = rows[k]
        j = cols[k]
        buf[:, :] = 0.0
        if order == 1:
            # -L so that the matrix is positive definite.
            _add_laplacian_row(buf, -1.0, i, j, i, j, height, width)
        else:
            # Row p of L^2 = sum over q of L[p, q] * row q of L (q = p and its
            # neighbours): the 13-point bilaplacian with reflected borders.
            degree = 0
            for m in range(4):
                qi = i + _DR[m]
                qj = j + _DC[m]
                if 0 <= qi < height and 0 <= qj < width:
                    degree += 1
                    _add_laplacian_row(buf, 1.0, qi, qj, i, j, height, width)
            _add_laplacian_row(buf, -float(degree), i, j, i, j, height, width)
            if tension != 0.0:
                buf *= 1.0 - tension
                _add_laplacian_row(buf, -tension, i, j, i, j, height, width)
        for bi in range(5):
            for bj in range(5):
                coef = buf[bi, bj]
                if coef == 0.0:
                    continue
                ri = i + bi - 2
                rj = j + bj - 2
                col = index[ri, rj]
                if col >= 0:
                    a_rows[count] = k
                    a_cols[count] = col
                    a_vals[count] = coef
                    count += 1
                else:
                    for c in range(channels):
                        rhs[k, c] -= coef * data[ri, rj, c]
    return a_rows[:count], a_cols[:count], a_vals[:count], rhs


# --------------------------------------------------------------------------------------
# total variation: Chambolle-Pock primal-dual iterations over the hole
# --------------------------------------------------------------------------------------

@jit
def tv_tables(rows, cols, index, height, width):
    """Index tables of the primal-dual TV solver.

    The dual variable lives on the pixels p whose forward differences touch the hole
    (p, its right or its lower neighbour is a hole pixel); elsewhere the gradient is
    fixed by known pixels and does not affect the minimiser.

    Returns
    -------
    dual_rows, dual_cols : ndarray, shape (m,)
        Coordinates of the dual pixels.
    dual_nb : ndarray, shape (m, 3)
        Hole index (or -1 = known) of the pixel, its right and its lower neighbour;
        -2 where that neighbour lies outside the image (difference 0, Neumann).
    hole_nb : ndarray, shape (n, 3)
        Dual index of each hole pixel, of its left and of its upper neighbour
        (-1 outside the image), for the divergence.
    """
    n = rows.shape[0]
    dual_index = np.full((height, width), -1, dtype=np.int64)
    dual_rows = np.empty(3 * n, dtype=np.int64)
    dual_cols = np.empty(3 * n, dtype=np.int64)
    m = 0
    for k in range(n):
        for s in range(3):
            i = rows[k] - (1 if s == 2 else 0)
            j = cols[k] - (1 if s == 1 else 0)
            if i >= 0 and j >= 0 and dual_index[i, j] < 0:
                dual_index[i, j] = m
                dual_rows[m] = i
                dual_cols[m] = j
                m += 1
    dual_nb = np.empty((m, 3), dtype=np.int64)
    for d in range(m):
        i = dual_rows[d]
        j = dual_cols[d]
        dual_nb[d, 0] = index[i, j]
        dual_nb[d, 1] = index[i, j + 1] if j + 1 < width else -2
        dual_nb[d, 2] = index[i + 1, j] if i + 1 < height else -2
    hole_nb = np.empty((n, 3), dtype=np.int64)
    for k in range(n):
        i = rows[k]
        j = cols[k]
        hole_nb[k, 0] = dual_index[i, j]
        hole_nb[k, 1] = dual_index[i, j - 1] if j > 0 else -1
        hole_nb[k, 2] = dual_index[i - 1, j] if i > 0 else -1
    return dual_rows[:m].copy(), dual_cols[:m].copy(), dual_nb, hole_nb


@jit
def tv_iterate(data, dual_rows, dual_cols, dual_nb, hole_nb, u, u_bar, dual,
               iterations, tau, sigma, low, high):
    """Run Chambolle-Pock iterations (Algorithm 1, theta = 1) for TV inpainting.

    min_u sum_p |grad u(p)| (vectorial TV: Euclidean norm over both directions and
    all channels) subject to u = f on the known pixels. With K = grad:
    y <- proj_{|y| <= 1}(y + sigma grad u_bar);  u_new <- proj_G(u + tau div y) with
    G = {u = f on the known pixels, low <= u <= high per channel}: the minimiser
    obeys the maximum principle, so the box does not change it but keeps the
    iterates in range; u_bar <- 2 u_new - u.

    ``u``, ``u_bar`` (n, C) and ``dual`` (m, C, 2) are updated in place. Returns the
    relative change ||u_new - u|| / ||u|| of the last iteration. Both sweeps are
    Jacobi-style (each pixel writes only its own entries). Serial on purpose: with
    many iterations of short sweeps, a parallel region per sweep costs more than it
    gains on a busy machine (measured 10-50x slower with 2 threads on 2 shared cores).
    """
    m = dual_rows.shape[0]
    n = u.shape[0]
    channels = u.shape[1]
    step_sq = np.zeros(n)
    size_sq = np.zeros(n)
    for _ in range(iterations):
        for d in range(m):
            i = dual_rows[d]
            j = dual_cols[d]
            norm2 = 0.0
            for c in range(channels):
                here = u_bar[dual_nb[d, 0], c] if dual_nb[d, 0] >= 0 else data[i, j, c]
                right = dual_nb[d, 1]
                if right == -2:
                    gx = 0.0
                elif right >= 0:
                    gx = u_bar[right, c] - here
                else:
                    gx = data[i, j + 1, c] - here
                down = dual_nb[d, 2]
                if down == -2:
                    gy = 0.0
                elif down >= 0:
                    gy = u_bar[down, c] - here
                else:
                    gy = data[i + 1, j, c] - here
                yx = dual[d, c, 0] + sigma * gx
                yy = dual[d, c, 1] + sigma * gy
                dual[d, c, 0] = yx
                dual[d, c, 1] = yy
                norm2 += yx * yx + yy * yy
            if norm2 > 1.0:
                scale = 1.0 / np.sqrt(norm2)
                for c in range(channels):
                    dual[d, c, 0] *= scale
                    dual[d, c, 1] *= scale
        for k in range(n):
            here = hole_nb[k, 0]
            left = hole_nb[k, 1]
            up = hole_nb[k, 2]
            diff2 = 0.0
            size2 = 0.0
            for c in range(channels):
                # div y = -grad^T y (backward differences, zero outside the image).
                div = dual[here, c, 0] + dual[here, c, 1]
                if left >= 0:
                    div -= dual[left, c, 0]
                if up >= 0:
                    div -= dual[up, c, 1]
                old = u[k, c]
                new = min(max(old + tau * div, low[c]), high[c])
                u[k, c] = new
                u_bar[k, c] = 2.0 * new - old
                diff2 += (new - old) * (new - old)
                size2 += old * old
            step_sq[k] = diff2
            size_sq[k] = size2
    diff2 = 0.0
    size2 = 0.0
    for k in range(n):
        diff2 += step_sq[k]
        size2 += size_sq[k]
    return np.sqrt(diff2 / max(size2, 1e-300))


# --------------------------------------------------------------------------------------
# transport: Bertalmio, Sapiro, Caselles, Ballester (SIGGRAPH 2000)
# --------------------------------------------------------------------------------------

@jit
def transport_tables(rows, cols, index, height, width):
    """The band (hole plus its 4-neighbours) and each hole pixel's band neighbours.

    Returns
    -------
    band_rows, band_cols : ndarray, shape (b,)
        Hole pixels first (same order as ``rows``), then the known ring.
    hole_nb : ndarray, shape (n, 4)
        Band index of the up, down, left, right neighbour of each hole pixel; the
        pixel itself where that neighbour is outside the image (reflection).
    """
    n = rows.shape[0]
    band_index = np.full((height, width), -1, dtype=np.int64)
    band_rows = np.empty(5 * n, dtype=np.int64)
    band_cols = np.empty(5 * n, dtype=np.int64)
    for k in range(n):
        band_index[rows[k], cols[k]] = k
        band_rows[k] = rows[k]
        band_cols[k] = cols[k]
    b = n
    hole_nb = np.empty((n, 4), dtype=np.int64)
    for k in range(n):
        for s in range(4):
            i = rows[k] + _DR[s]
            j = cols[k] + _DC[s]
            if 0 <= i < height and 0 <= j < width:
                if band_index[i, j] < 0:
                    band_index[i, j] = b
                    band_rows[b] = i
                    band_cols[b] = j
                    b += 1
                hole_nb[k, s] = band_index[i, j]
            else:
                hole_nb[k, s] = k
    return band_rows[:b].copy(), band_cols[:b].copy(), hole_nb


@jit
def _pixel(work, i, j, c, height, width):
    # Reflected border (a missing neighbour is the nearest pixel), as ndimage "reflect"
    # for one-pixel reach.
    if i < 0:
        i = 0
    elif i >= height:
        i = height - 1
    if j < 0:
        j = 0
    elif j >= width:
        j = width - 1
    return work[i, j, c]


@jit
def transport_cycle(work, rows, cols, band_rows, band_cols, hole_nb, lap, rate,
                    inpaint_steps, diffusion_steps, dt, eps):
    """One cycle: ``inpaint_steps`` transport steps, then ``diffusion_steps`` steps.

    Transport (Bertalmio et al. 2000, eqs. 3-9): I_t = (delta L . N/|N|) |grad I| with
    L the Laplacian, delta L its central differences, N = (-I_y, I_x) the isophote
    direction, and |grad I| the slope-limited upwind gradient of eq. (9), chosen by
    the sign of beta = delta L . N/|N|. Diffusion: curvature (anisotropic) flow
    I_t = kappa |grad I| = (I_xx I_y^2 - 2 I_x I_y I_xy + I_yy I_x^2) / |grad I|^2.
    ``work`` (H, W, C) is updated in place on the hole pixels; ``lap`` (b, C) and
    ``rate`` (n, C) are scratch. Returns the squared change and squared size of the
    hole values over the cycle. Each sweep is Jacobi-style; serial for the reason
    given in :func:`tv_iterate`.
    """
    height, width, channels = work.shape
    n = rows.shape[0]
    nb = band_rows.shape[0]
    start = np.empty((n, channels))
    for k in range(n):
        for c in range(channels):
            start[k, c] = work[rows[k], cols[k], c]
    for step in range(inpaint_steps + diffusion_steps):
        transport = step < inpaint_steps
        if transport:
            for b in range(nb):
                i = band_rows[b]
                j = band_cols[b]
                for c in range(channels):
                    lap[b, c] = (_pixel(work, i - 1, j, c, height, width)
                                 + _pixel(work, i + 1, j, c, height, width)
                                 + _pixel(work, i, j - 1, c, height, width)
                                 + _pixel(work, i, j + 1, c, height, width)
                                 - 4.0 * work[i, j, c])
        for k in range(n):
            i = rows[k]
            j = cols[k]
            for c in range(channels):
                centre = work[i, j, c]
                up = _pixel(work, i - 1, j, c, height, width)
                down = _pixel(work, i + 1, j, c, height, width)
                left = _pixel(work, i, j - 1, c, height, width)
                right = _pixel(work, i, j + 1, c, height, width)
                ix = 0.5 * (right - left)
                iy = 0.5 * (down - up)
                if transport:
                    # delta L, eq. (5): change of smoothness along x (columns), y (rows).
                    dlx = lap[hole_nb[k, 3], c] - lap[hole_nb[k, 2], c]
                    dly = lap[hole_nb[k, 1], c] - lap[hole_nb[k, 0], c]
                    norm = np.sqrt(ix * ix + iy * iy + eps)
                    beta = (dlx * (-iy) + dly * ix) / norm
                    ixb = centre - left
                    ixf = right - centre
                    iyb = centre - up
                    iyf = down - centre
                    # Slope-limited |grad I|, eq. (9).
                    if beta > 0.0:
                        grad = np.sqrt(min(ixb, 0.0) ** 2 + max(ixf, 0.0) ** 2
                                       + min(iyb, 0.0) ** 2 + max(iyf, 0.0) ** 2)
                    else:
                        grad = np.sqrt(max(ixb, 0.0) ** 2 + min(ixf, 0.0) ** 2
                                       + max(iyb, 0.0) ** 2 + min(iyf, 0.0) ** 2)
                    rate[k, c] = beta * grad
                else:
                    ixx = right + left - 2.0 * centre
                    iyy = down + up - 2.0 * centre
                    ixy = 0.25 * (_pixel(work, i + 1, j + 1, c, height, width)
                                  - _pixel(work, i + 1, j - 1, c, height, width)
                                  - _pixel(work, i - 1, j + 1, c, height, width)
                                  + _pixel(work, i - 1, j - 1, c, height, width))
                    rate[k, c] = ((ixx * iy * iy - 2.0 * ix * iy * ixy + iyy * ix * ix)
                                  / (ix * ix + iy * iy + eps))
        for k in range(n):
            for c in range(channels):
                work[rows[k], cols[k], c] += dt * rate[k, c]
    diff2 = 0.0
    size2 = 0.0
    for k in range(n):
        for c in range(channels):
            value = work[rows[k], cols[k], c]
            diff2 += (value - start[k, c]) ** 2
            size2 += start[k, c] ** 2
    return diff2, size2


# --------------------------------------------------------------------------------------
# multigrid: matrix products and Chebyshev smoothing on CSR operators over hole pixels
# --------------------------------------------------------------------------------------
# Strict IEEE (no fastmath): with reassociation allowed LLVM vectorises the short
# inner loops over a row's entries into gathers, measured 1.8x slower.
#
# Two threads: rows are cut into chunks of _ROWS_PER_CHUNK (a constant, not a function
# of the thread count) and the serial ``nogil`` kernels below take every ``step``-th
# chunk from ``start`` (``_jit.run_strided`` runs one call per thread on a thread
# pool). Each row's sums are accumulated as in a serial loop and sums over rows (CG's
# inner products) are added per chunk, then over the chunks in order, so results are
# the same bit for bit on any number of threads. Not ``prange``: OpenMP's workers
# spin between parallel regions, and on two shared cores a solve then ran 2-8x
# slower than on one thread (a 1024 px tension fill 2.2-3.1 s against 0.32 s); the
# pool's threads sleep.

#: Rows per work item (a fixed cut: results do not depend on the thread count).
_ROWS_PER_CHUNK = 1024
#: Calls on fewer rows than this stay on the calling thread (a pool round trip costs
#: tens of microseconds; a coarse level's product less).
_PARALLEL_ROWS = 8 * _ROWS_PER_CHUNK
#: Whether the wrappers below share their work over Numba's threads; set by the
#: solver (:func:`threads`) for the duration of one large solve.
_SHARED = [False]


@contextlib.contextmanager
def threads(shared):
    """Within the block, the product wrappers share large calls over all threads."""
    before = _SHARED[0]
    _SHARED[0] = bool(shared)
    try:
        yield
    finally:
        _SHARED[0] = before


def _run(kernel, rows, *args):
    """``kernel(*args, start, step)`` over the row chunks, shared when large enough."""
    run_strided(kernel, *args, parallel=_SHARED[0] and rows >= _PARALLEL_ROWS)


@jit_strict
def _chunks(rows):
    """Number of _ROWS_PER_CHUNK row chunks of ``rows`` rows."""
    return (rows + _ROWS_PER_CHUNK - 1) // _ROWS_PER_CHUNK


@jit_strict
def _row4(indptr, indices, values, x, k):
    """Row ``k`` of the CSR matrix times ``x`` (n, 4): four sums kept in registers."""
    t0 = x.dtype.type(0.0)
    t1 = t0
    t2 = t0
    t3 = t0
    for e in range(indptr[k], indptr[k + 1]):
        col = indices[e]
        coef = values[e]
        t0 += coef * x[col, 0]
        t1 += coef * x[col, 1]
        t2 += coef * x[col, 2]
        t3 += coef * x[col, 3]
    return t0, t1, t2, t3


@jit_strict
def _row_into(indptr, indices, values, x, k, total):
    """Row ``k`` of the CSR matrix times ``x`` (n, C), added into ``total`` (C,)."""
    for e in range(indptr[k], indptr[k + 1]):
        col = indices[e]
        coef = values[e]
        for c in range(x.shape[1]):
            total[c] += coef * x[col, c]


@jit_strict
def _product_chunks(indptr, indices, values, x, rhs, out, subtract, start, step):
    """Row chunks start, start + step, ... of ``A x`` (``subtract``: ``rhs - A x``)."""
    rows = indptr.shape[0] - 1
    channels = x.shape[1]
    total = np.empty(channels, x.dtype)
    for chunk in range(start, _chunks(rows), step):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            if channels == 4:
                t0, t1, t2, t3 = _row4(indptr, indices, values, x, k)
                if subtract:
                    out[k, 0] = rhs[k, 0] - t0
                    out[k, 1] = rhs[k, 1] - t1
                    out[k, 2] = rhs[k, 2] - t2
                    out[k, 3] = rhs[k, 3] - t3
                else:
                    out[k, 0] = t0
                    out[k, 1] = t1
                    out[k, 2] = t2
                    out[k, 3] = t3
            else:
                total[:] = 0.0
                _row_into(indptr, indices, values, x, k, total)
                for c in range(channels):
                    out[k, c] = rhs[k, c] - total[c] if subtract else total[c]


def csr_multiply(indptr, indices, values, x):
    """(m, C) product of the CSR matrix (indptr, indices, values) with ``x`` (n, C).

    The result has ``x``'s dtype (float32 in the multigrid cycle, float64 elsewhere).
    Four channels (the multigrid pads to four) take a path whose sums stay in
    registers, about twice as fast as the general loop over channels.
    """
    out = np.empty((indptr.shape[0] - 1, x.shape[1]), x.dtype)
    _run(_product_chunks, out.shape[0], indptr, indices, values, x, out, out, False)
    return out


def csr_residual(indptr, indices, values, x, rhs):
    """``rhs - A x`` (n, C) for the square CSR matrix A, in ``x``'s dtype."""
    out = np.empty((indptr.shape[0] - 1, x.shape[1]), x.dtype)
    _run(_product_chunks, out.shape[0], indptr, indices, values, x, rhs.astype(x.dtype,
         copy=False), out, True)
    return out


@jit_strict
def _chebyshev_first(inv_diag, residual, theta, step, start, stride):
    """``step = D^-1 residual / theta`` on row chunks start, start + stride, ..."""
    rows = residual.shape[0]
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            for c in range(residual.shape[1]):
                step[k, c] = inv_diag[k] * residual[k, c] / theta


@jit_strict
def _chebyshev_chunks(indptr, indices, values, inv_diag, x, residual, step, following,
                      keep, push, start, stride):
    """One Chebyshev step on row chunks start, start + stride, ...: ``x += step``,
    ``residual -= A step``, and the next step ``keep step + push D^-1 residual``
    into ``following``."""
    rows = indptr.shape[0] - 1
    channels = x.shape[1]
    total = np.empty(channels, x.dtype)
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            if channels == 4:
                t0, t1, t2, t3 = _row4(indptr, indices, values, step, k)
                total[0] = residual[k, 0] - t0
                total[1] = residual[k, 1] - t1
                total[2] = residual[k, 2] - t2
                total[3] = residual[k, 3] - t3
            else:
                total[:] = 0.0
                _row_into(indptr, indices, values, step, k, total)
                for c in range(channels):
                    total[c] = residual[k, c] - total[c]
            scale = push * inv_diag[k]
            for c in range(channels):
                x[k, c] += step[k, c]
                residual[k, c] = total[c]
                following[k, c] = keep * step[k, c] + scale * total[c]


@jit_strict
def _add_chunks(x, step, start, stride):
    """``x += step`` on row chunks start, start + stride, ..."""
    rows = x.shape[0]
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            for c in range(x.shape[1]):
                x[k, c] += step[k, c]


def chebyshev_smooth(indptr, indices, values, inv_diag, x, rhs, lower, upper, degree,
                     zero_start=False):
    """``degree`` steps of Chebyshev-accelerated Jacobi on A x = rhs, from ``x`` (n, C).

    The Chebyshev polynomial of D^-1 A that is smallest on [lower, upper] (an
    interval of its eigenvalues: the high-frequency part a multigrid smoother must
    damp). The same polynomial before and after a coarse correction keeps a V-cycle
    symmetric. Returns the new x; ``x`` is not modified. With ``zero_start`` the
    caller promises ``x`` is zero, which saves the first product (residual = rhs).
    Each step is one pass over the rows (x += step, residual -= A step, the next
    step from the new residual).
    """
    rows, channels = x.shape
    theta = 0.5 * (upper + lower)
    delta = 0.5 * (upper - lower)
    sigma = theta / delta
    rho = 1.0 / sigma
    if zero_start:
        x = np.zeros_like(x)
        residual = rhs.astype(x.dtype)
    else:
        x = x.copy()
        residual = csr_residual(indptr, indices, values, x, rhs)
    step = np.empty((rows, channels), x.dtype)
    following = np.empty((rows, channels), x.dtype)
    _run(_chebyshev_first, rows, inv_diag, residual, theta, step)
    scalar = x.dtype.type
    for _ in range(degree - 1):
        rho_next = 1.0 / (2.0 * sigma - rho)
        _run(_chebyshev_chunks, rows, indptr, indices, values, inv_diag, x, residual, step,
             following, scalar(rho_next * rho), scalar(2.0 * rho_next / delta))
        step, following = following, step
        rho = rho_next
    _run(_add_chunks, rows, x, step)
    return x


# --------------------------------------------------------------------------------------
# conjugate gradients: the vector updates of one step, every channel at once
# --------------------------------------------------------------------------------------

@jit_strict
def _dot_chunks(a, b, partial, start, stride):
    """Per-chunk sums of ``a * b`` into ``partial`` (chunks, C)."""
    rows, channels = a.shape
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            for c in range(channels):
                partial[chunk, c] += a[k, c] * b[k, c]


@jit_strict
def _sum_chunks(partial):
    """(chunks, C) per-chunk sums -> (C,), added in chunk order."""
    out = np.zeros(partial.shape[1])
    for chunk in range(partial.shape[0]):
        for c in range(partial.shape[1]):
            out[c] += partial[chunk, c]
    return out


def column_dot(a, b):
    """Per-channel inner products: sum over rows of ``a * b`` (n, C) -> (C,).

    Summed per row chunk, then over the chunks in order: the same on any thread count."""
    partial = np.zeros((int(_chunks(a.shape[0])), a.shape[1]))
    _run(_dot_chunks, a.shape[0], a, b, partial)
    return _sum_chunks(partial)


@jit_strict
def _advance_chunks(x, residual, direction, product, step, partial, start, stride):
    rows, channels = x.shape
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            for c in range(channels):
                x[k, c] += step[c] * direction[k, c]
                value = residual[k, c] - step[c] * product[k, c]
                residual[k, c] = value
                partial[chunk, c] += value * value


def cg_advance(x, residual, direction, product, step):
    """``x += step * direction`` and ``residual -= step * product`` in place (``step``
    per channel, (C,)); returns the new residual's squared norm per channel (summed
    as :func:`column_dot` sums)."""
    partial = np.zeros((int(_chunks(x.shape[0])), x.shape[1]))
    _run(_advance_chunks, x.shape[0], x, residual, direction, product,
         np.asarray(step, np.float64), partial)
    return _sum_chunks(partial)


@jit_strict
def _turn_chunks(direction, z, beta, start, stride):
    rows = z.shape[0]
    for chunk in range(start, _chunks(rows), stride):
        for k in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            for c in range(z.shape[1]):
                direction[k, c] = z[k, c] + beta[c] * direction[k, c]


def cg_turn(direction, z, beta):
    """``direction = z + beta * direction`` in place (``beta`` per channel)."""
    _run(_turn_chunks, z.shape[0], direction, z, np.asarray(beta, np.float64))


# --------------------------------------------------------------------------------------
# multigrid set-up: transfers and Galerkin products as CSR arrays
# --------------------------------------------------------------------------------------

@jit_strict
def coarse_blocks(rows, cols, coarse_height, coarse_width):
    """The 2x2 blocks that hold at least one of the pixels (rows, cols), row-major.

    Returns
    -------
    index : ndarray, shape (coarse_height, coarse_width), int64
        Index of each such block among them, -1 for the others.
    block_rows, block_cols : ndarray, shape (m,)
    """
    index = np.full((coarse_height, coarse_width), -1, dtype=np.int64)
    for k in range(rows.shape[0]):
        index[rows[k] // 2, cols[k] // 2] = 0
    m = 0
    for i in range(coarse_height):
        for j in range(coarse_width):
            if index[i, j] == 0:
                index[i, j] = m
                m += 1
    block_rows = np.empty(m, dtype=np.int64)
    block_cols = np.empty(m, dtype=np.int64)
    m = 0
    for i in range(coarse_height):
        for j in range(coarse_width):
            if index[i, j] >= 0:
                index[i, j] = m
                block_rows[m] = i
                block_cols[m] = j
                m += 1
    return index, block_rows, block_cols


@jit_strict
def bilinear_prolongation(rows, cols, index):
    """CSR (indptr, indices, values) of the bilinear prolongation to pixels (rows, cols).

    ``index`` maps each 2x2 block to its coarse unknown (-1: none). A pixel takes
    9/16 of its own block, 3/16 of each of the two blocks beside it on its side and
    1/16 of the diagonal one; a block outside the image passes its weight to the
    pixel's own block (Neumann), a block that is not a coarse unknown drops it
    (Dirichlet). See :func:`inpaintkit.algorithms.diffusion._prolongation`.
    """
    n = rows.shape[0]
    coarse_height, coarse_width = index.shape
    indptr = np.zeros(n + 1, dtype=np.int32)
    indices = np.empty(4 * n, dtype=np.int32)
    values = np.empty(4 * n, dtype=np.float64)
    count = 0
    for k in range(n):
        block_r = rows[k] // 2
        block_c = cols[k] // 2
        side_r = block_r - 1 if rows[k] % 2 == 0 else block_r + 1
        side_c = block_c - 1 if cols[k] % 2 == 0 else block_c + 1
        side_r = min(max(side_r, 0), coarse_height - 1)
        side_c = min(max(side_c, 0), coarse_width - 1)
        start = count
        for s in range(4):
            er = side_r if s == 1 or s == 3 else block_r
            ec = side_c if s >= 2 else block_c
            weight = 9.0 / 16.0 if s == 0 else (1.0 / 16.0 if s == 3 else 3.0 / 16.0)
            col = index[er, ec]
            if col < 0:
                continue
            found = False
            for e in range(start, count):
                if indices[e] == col:
                    values[e] += weight
                    found = True
            if not found:
                indices[count] = col
                values[count] = weight
                count += 1
        indptr[k + 1] = count
    return indptr, indices[:count].copy(), values[:count].copy()


@jit_strict
def csr_transpose(indptr, indices, values, columns):
    """CSR of the transpose of the CSR matrix with ``columns`` columns."""
    nnz = indptr[-1]
    out_ptr = np.zeros(columns + 1, dtype=np.int32)
    for e in range(nnz):
        out_ptr[indices[e] + 1] += 1
    for j in range(columns):
        out_ptr[j + 1] += out_ptr[j]
    fill = out_ptr[:-1].copy()
    out_idx = np.empty(nnz, dtype=np.int32)
    out_val = np.empty(nnz, dtype=values.dtype)
    for i in range(indptr.shape[0] - 1):
        for e in range(indptr[i], indptr[i + 1]):
            j = indices[e]
            out_idx[fill[j]] = i
            out_val[fill[j]] = values[e]
            fill[j] += 1
    return out_ptr, out_idx, out_val


@jit_strict
def _matmul_count(a_ptr, a_idx, b_ptr, b_idx, columns, counts, start, stride):
    """Entries of each row of A B (row chunks start, start + stride, ...) into
    ``counts[row + 1]``, with one marker per column for this worker."""
    rows = a_ptr.shape[0] - 1
    marker = np.full(columns, -1, dtype=np.int64)
    for chunk in range(start, _chunks(rows), stride):
        for i in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            count = 0
            for e in range(a_ptr[i], a_ptr[i + 1]):
                k = a_idx[e]
                for f in range(b_ptr[k], b_ptr[k + 1]):
                    j = b_idx[f]
                    if marker[j] != i:
                        marker[j] = i
                        count += 1
            counts[i + 1] = count


@jit_strict
def _matmul_fill(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, columns, out_ptr, out_idx,
                 out_val, start, stride):
    """Rows of A B (row chunks start, start + stride, ...) into the CSR arrays."""
    rows = a_ptr.shape[0] - 1
    position = np.full(columns, -1, dtype=np.int64)
    for chunk in range(start, _chunks(rows), stride):
        for i in range(chunk * _ROWS_PER_CHUNK, min(rows, (chunk + 1) * _ROWS_PER_CHUNK)):
            begin = out_ptr[i]
            count = begin
            for e in range(a_ptr[i], a_ptr[i + 1]):
                k = a_idx[e]
                coef = a_val[e]
                for f in range(b_ptr[k], b_ptr[k + 1]):
                    j = b_idx[f]
                    if position[j] < begin:
                        position[j] = count
                        out_idx[count] = j
                        count += 1
                    out_val[position[j]] += coef * b_val[f]


def csr_matmul(a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, columns):
    """CSR of the product of two CSR matrices (B has ``columns`` columns).

    Two passes over the rows (count, then fill) with a marker per column: Gustavson's
    row-by-row product, in float64. Each row is built as a serial loop builds it, so
    the result does not depend on how many threads share the rows.
    """
    rows = a_ptr.shape[0] - 1
    counts = np.zeros(rows + 1, dtype=np.int64)
    _run(_matmul_count, rows, a_ptr, a_idx, b_ptr, b_idx, columns, counts)
    out_ptr = np.cumsum(counts)
    out_idx = np.empty(out_ptr[rows], dtype=np.int32)
    out_val = np.zeros(out_ptr[rows], dtype=np.float64)
    _run(_matmul_fill, rows, a_ptr, a_idx, a_val, b_ptr, b_idx, b_val, columns, out_ptr,
         out_idx, out_val)
    return out_ptr.astype(np.int32), out_idx, out_val


@jit_strict
def jacobi_bound(indptr, indices, values):
    """The diagonal of a square CSR matrix and Gershgorin's bound of D^-1 A's
    largest eigenvalue: max over rows of sum |a_ij| / a_ii."""
    rows = indptr.shape[0] - 1
    diagonal = np.zeros(rows)
    bound = 0.0
    for i in range(rows):
        total = 0.0
        for e in range(indptr[i], indptr[i + 1]):
            total += abs(values[e])
            if indices[e] == i:
                diagonal[i] += values[e]
        bound = max(bound, total / diagonal[i])
    return diagonal, bound


# --------------------------------------------------------------------------------------
# banded Cholesky: direct solves of thin holes (scratches, strokes)
# --------------------------------------------------------------------------------------

@jit_strict
def banded_cholesky_solve(band, rhs):
    """Solve A x = ``rhs`` (n, C) for SPD A given by its lower band, in place.

    ``band`` (n, w + 1) holds A[j + d, j] at [j, d] (column j's entries from the
    diagonal down); it is overwritten by the Cholesky factor L, and ``rhs`` by x.
    Work n w^2, serial (LAPACK's banded solver would thread through OpenBLAS, which
    on a loaded machine made a 3000-unknown solve take 0.8 s instead of 1 ms).
    """
    n, depth = band.shape
    width = depth - 1
    channels = rhs.shape[1]
    for k in range(n):
        pivot = np.sqrt(band[k, 0])
        band[k, 0] = pivot
        reach = min(width, n - 1 - k)
        for d in range(1, reach + 1):
            band[k, d] /= pivot
        for d2 in range(1, reach + 1):
            factor = band[k, d2]
            if factor == 0.0:
                continue
            column = k + d2
            for d1 in range(d2, reach + 1):
                band[column, d1 - d2] -= band[k, d1] * factor
    for k in range(n):  # L y = rhs
        reach = min(width, n - 1 - k)
        for c in range(channels):
            value = rhs[k, c] / band[k, 0]
            rhs[k, c] = value
            for d in range(1, reach + 1):
                rhs[k + d, c] -= band[k, d] * value
    for k in range(n - 1, -1, -1):  # L^T x = y
        reach = min(width, n - 1 - k)
        for c in range(channels):
            total = rhs[k, c]
            for d in range(1, reach + 1):
                total -= band[k, d] * rhs[k + d, c]
            rhs[k, c] = total / band[k, 0]
    return rhs


# --------------------------------------------------------------------------------------
# multigrid's coarsest level: triangular solves with SuperLU's factors
# --------------------------------------------------------------------------------------

@jit_strict
def lu_solve(l_ptr, l_idx, l_val, u_ptr, u_idx, u_val, row_perm, col_perm, rhs):
    """Solve A x = ``rhs`` (n, C) given SuperLU's factors of A: ``Pr A Pc = L U``.

    L and U are CSC (pointers, row indices, values), L lower and U upper triangular
    with their diagonals stored; ``row_perm`` / ``col_perm`` are SuperLU's
    ``perm_r`` / ``perm_c``. Serial and in Numba: ``SuperLU.solve`` goes through
    OpenBLAS, whose threads and the parallel kernels' spinning threads took turns on
    two cores (a 2048 px solve took 3.9 s instead of 1.1 s). Returns x (n, C) float64.
    """
    n, channels = rhs.shape
    y = np.empty((n, channels))
    for i in range(n):
        for c in range(channels):
            y[row_perm[i], c] = rhs[i, c]
    for j in range(n):  # L y = Pr rhs, column by column
        pivot = 0.0
        for e in range(l_ptr[j], l_ptr[j + 1]):
            if l_idx[e] == j:
                pivot = l_val[e]
        for c in range(channels):
            y[j, c] /= pivot
        for e in range(l_ptr[j], l_ptr[j + 1]):
            i = l_idx[e]
            if i > j:
                coef = l_val[e]
                for c in range(channels):
                    y[i, c] -= coef * y[j, c]
    for j in range(n - 1, -1, -1):  # U z = y
        pivot = 0.0
        for e in range(u_ptr[j], u_ptr[j + 1]):
            if u_idx[e] == j:
                pivot = u_val[e]
        for c in range(channels):
            y[j, c] /= pivot
        for e in range(u_ptr[j], u_ptr[j + 1]):
            i = u_idx[e]
            if i < j:
                coef = u_val[e]
                for c in range(channels):
                    y[i, c] -= coef * y[j, c]
    out = np.empty((n, channels))
    for i in range(n):
        for c in range(channels):
            out[i, c] = y[col_perm[i], c]
    return out
