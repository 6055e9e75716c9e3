"""The PDE diffusion family: fill a hole by solving a partial differential equation.

One public function, :func:`inpaint_diffusion`, dispatches on ``variant``:

- ``"harmonic"``: Laplace's equation, a sparse SPD system over the hole pixels.
- ``"biharmonic"``: the biharmonic equation, the same way; matches
  ``skimage.restoration.inpaint_biharmonic`` (same stencil and border handling).
- ``"tension"``: the biharmonic spline in tension (Smith and Wessel), between the two:
  smooth joins like biharmonic without its overshoot in large holes. The default.
- ``"tv"``: total-variation inpainting (Chan and Shen), primal-dual solver.
- ``"transport"``: Bertalmio et al. (SIGGRAPH 2000), Laplacian transported along
  isophotes, interleaved with anisotropic diffusion.
- ``"telea"`` and ``"coherence"``: fast-marching methods, in
  :mod:`inpaintkit.algorithms.fast_marching`.

Work grows with the hole, not the image: systems are assembled over hole pixels only,
solved per group of coupled holes, and the iterative variants loop over hole pixels.
"""

from __future__ import annotations

import cv2
import numpy as np

from .._image import (REGION_BLOCK, check_has_hole, check_image, check_known_values,
                      check_mask, hole_regions, prepare, prepare_band)
from .._lazy import LazyModule
from .._progress import report
from .._validate import check_float, check_int

# SciPy's sparse solvers and the Numba kernels are imported on first use (together
# about 0.6 s of start-up, plus Numba's cache loading): a small hole is solved by
# :func:`_solve_small` in NumPy alone, so `inpaintkit fill` of a scratch needs neither.
sparse = LazyModule("scipy.sparse")
kernels = LazyModule("inpaintkit.algorithms._diffusion_kernels")


def splu(*args, **kwargs):
    """``scipy.sparse.linalg.splu``, imported on the first factorisation."""
    from scipy.sparse.linalg import splu as factorise

    return factorise(*args, **kwargs)

VARIANTS = ("tension", "biharmonic", "harmonic", "tv", "transport", "telea", "coherence")

#: Which keyword options each variant reads (the others are ignored by it).
VARIANT_OPTIONS = {
    "harmonic": (),
    "biharmonic": (),
    "tension": ("tension",),
    "tv": ("iterations", "tolerance"),
    "transport": ("iterations", "tolerance", "inpaint_steps", "diffusion_steps"),
    "telea": ("radius",),
    "coherence": ("radius", "sharpness", "sigma", "rho"),
}

#: Hole pixels solved in one sparse factorisation at most (groups of coupled holes
#: are batched up to this size; a single larger group is solved on its own). Bounds
#: the memory of the direct solver without paying Python overhead per tiny hole.
_BATCH_UNKNOWNS = 200_000

_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], np.uint8)

#: Bilaplacian (biharmonic, tension) batches of at least this many unknowns are
#: solved by multigrid-preconditioned conjugate gradients (:func:`_multigrid`); below
#: it SuperLU's factorisation is as fast. Measured in CPU time on a contended
#: machine (bench/diffusion.py, ~5 % free-form hole on RGB, best of two): 0.11 s
#: both at 1.35e4 unknowns (512 px), 0.68 s direct against 0.37 s multigrid at
#: 5.4e4 (1024 px), 5.7 s against 2.1 s at 2.2e5 (2048 px, tension); the
#: multigrid's memory stays linear in the hole where the factor's fill does not.
_MULTIGRID_MIN = 20_000
#: Multigrid levels stop coarsening at this many unknowns; that level is factorised.
#: 6 000 against 15 000, 3 000 and 1 000 at 5.4e4 unknowns: 0.37 s, 0.47 s, 0.44 s,
#: 0.45 s (fewer levels need fewer CG steps, 11 against 15, but a larger factor).
_MG_COARSEST = 6_000
#: ... or, for the bilaplacian, at 1/40 of the fine level's unknowns if more: deep
#: hierarchies of the fourth-order Galerkin operators need more CG steps. At 4096 px (biharmonic, 5 %
#: hole, whose largest group has about 8x10^5 unknowns) 18 steps and 8.8-9.2 CPU s
#: with 6 000 against 12-13 steps and 7.2-7.7 CPU s with 2x10^4; the same at 1024 px
#: (0.38-0.39 CPU s, where 2x10^4 would cost 0.49-0.53 s); 2048 px 1.5-1.7 s either way.
#: Not for the Laplacian: the 37 MP photo's patchmatch vote (about 1.8x10^6 unknowns)
#: took 7 % more CPU and 40 MB more with it.
_MG_COARSEST_SHARE = 40
#: Degree of the Chebyshev-Jacobi smoother before and after each coarse correction,
#: and the part of D^-1 A's spectrum it damps: [upper / _MG_RATIO, upper]. Counted in
#: fine-level products (CG steps x (2 degree + 2)) on the benchmark's 5 % holes,
#: degree 2 on [upper / 10, upper] does 17-25 % less work than degree 3 on
#: [upper / 30, upper]: at 1024 px 12 steps against 11 (biharmonic) and 11 against 10
#: (tension); at 2048 px 12 against 11 and 10 against 10.
_MG_DEGREE = 2
_MG_RATIO = 10.0
#: Stopping rule of the multigrid CG (relative residual per channel, iteration cap):
#: tight enough that the fill equals the direct solution within 1e-6 (measured
#: 1e-9 mean and 2e-8 max at 5.4e4 unknowns; 1e-7 would reach 1.4e-7 mean, 2e-6 max).
_MG_RTOL = 1e-8
_MG_MAXITER = 200
#: Precision of the multigrid cycle (the preconditioner). CG's iterates, residuals
#: and products stay float64, so the answer is as exact as with a float64 cycle;
#: float32 halves the memory traffic of the cycle's products.
_MG_DTYPE = np.float32
#: Laplacian (harmonic, Poisson) groups above this many unknowns are solved by the
#: same multigrid CG as the bilaplacian (faster than the factorisation from about
#: 5x10^4 unknowns; about the same at 2.5x10^4: 0.11 s each on patchmatch's 512 px
#: vote). It replaced a SciPy two-grid (aggregation) preconditioner: on the 1024 px
#: vote (9.9x10^4 unknowns, started from the plain best vote) 8 CG steps against
#: 19, 0.36-0.50 CPU s against 0.56-1.04 on one thread, loaded machine.
_DIRECT_MAX_LAPLACIAN = 50_000
#: Multigrid systems of at least this many unknowns share their products, smoothing,
#: CG updates and Galerkin products over Numba's threads (``kernels.threads``; the
#: same result on any number of threads). Smaller ones stay on one.
_PARALLEL_MIN = 30_000


# --------------------------------------------------------------------------------------
# harmonic and biharmonic: sparse direct solves over the hole pixels
# --------------------------------------------------------------------------------------

def _coupled_groups(hole, rows, cols, order):
    """Label hole pixels so that pixels coupled by the stencil share a label.

    The Laplacian couples 4-neighbours; the bilaplacian couples pixels up to
    Manhattan distance 2, so holes one or two known pixels apart must be solved
    together: label the hole dilated by one pixel (4-connectivity).
    """
    # OpenCV rather than scipy.ndimage: importing ndimage costs more CLI start-up than
    # the whole fill of a typical scratch.
    region = hole.view(np.uint8)
    if order == 2:
        region = cv2.dilate(region, _CROSS)
    count, labels = cv2.connectedComponents(region, connectivity=4, ltype=cv2.CV_32S)
    return labels[rows, cols], count - 1


def _batches(group_of_pixel, count):
    """Split pixel indices into batches of whole groups, each up to _BATCH_UNKNOWNS."""
    order = np.argsort(group_of_pixel, kind="stable")
    sizes = np.bincount(group_of_pixel, minlength=count + 1)[1:]
    ends = np.cumsum(sizes)
    batches = []
    start = 0
    for g in range(count):
        if ends[g] - start >= _BATCH_UNKNOWNS or g == count - 1:
            batches.append(order[start:ends[g]])
            start = ends[g]
    return [b for b in batches if b.size]


def _solve_spd(rows, cols, vals, rhs, n):
    """Solve the SPD system with a sparse LU in symmetric mode (Cholesky-like)."""
    matrix = sparse.csc_array((vals, (rows, cols)), shape=(n, n))
    # Symmetric mode: no pivoting and a minimum-degree ordering of A + A^T, which
    # keeps the fill of a 2-D stencil matrix far below the default COLAMD.
    factor = splu(matrix, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    return factor.solve(rhs)


#: A direct system whose nonzeros lie within ``width`` of the diagonal, with
#: unknowns x width^2 at most this, is solved by a banded Cholesky factorisation
#: (``kernels.banded_cholesky_solve``) instead of SuperLU: scratches and thin strokes,
#: whose pixels in raster or column order keep coupled pixels a few places apart.
#: Measured on the 2 px scratches of an 8000x6000 photo (windows of about 3000
#: unknowns, band 10-40): about 1 ms against 14 ms per window.
_BANDED_WORK = 2e7


def _solve_direct(a_rows, a_cols, a_vals, rhs, rows, cols, groups):
    """Solve the SPD system (COO entries) over pixels (rows, cols) directly.

    ``groups`` (n,) numbers the independent groups of coupled pixels. Ordered group
    by group, in raster or in column order (whichever keeps the band narrower), a
    narrow band goes to the banded Cholesky factorisation; anything else to SuperLU
    (:func:`_solve_spd`). The same solution within rounding.
    """
    n = rows.size
    best = None
    for key in ((cols, rows, groups), (rows, cols, groups)):
        order = np.lexsort(key)  # by group, then row-major / column-major
        position = np.empty(n, np.int64)
        position[order] = np.arange(n)
        i, j = position[a_rows], position[a_cols]
        width = int(np.abs(i - j).max()) if i.size else 0
        if best is None or width < best[0]:
            best = (width, order, i, j)
    width, order, i, j = best
    if n * width * width > _BANDED_WORK:
        return _solve_spd(a_rows, a_cols, a_vals, rhs, n)
    lower = i >= j
    band = np.zeros((n, width + 1))
    # COO entries may repeat (a screening term added to the diagonal): summed, as the
    # sparse path sums them.
    np.add.at(band, (j[lower], i[lower] - j[lower]), a_vals[lower])
    solution = np.empty_like(rhs)
    solution[order] = kernels.banded_cholesky_solve(band, np.ascontiguousarray(rhs[order]))
    return solution


def _solve_elliptic(data, hole, order, tension=0.0, source=None, start=None, screening=0.0,
                    anchor=None):
    """Harmonic (order 1) or biharmonic (order 2) fill of ``hole`` in ``data``.

    Writes the (unclipped) solution into the hole pixels of ``data`` (H, W, C) in place
    and returns it. Known pixels are only read. ``source`` (H, W, C), read at hole
    pixels, is added to the right-hand side: with order 1 the equation becomes
    Poisson's, (-L) u = source. ``start`` (H, W, C), read at hole pixels, is where
    the multigrid CG of large order-1 groups starts (default: zero); that of large
    order-2 groups starts from zero. A ``screening`` weight
    s > 0 (order 1) adds s (u - ``anchor``) to each row: the screened Poisson
    equation (s - L) u = source + s anchor, ``anchor`` (H, W, C) read at hole pixels.
    """
    filled = data
    rows, cols = np.nonzero(hole)
    group, count = _coupled_groups(hole, rows, cols, order)
    # Local index of each hole pixel within its batch; stencils never reach another
    # batch's pixels because coupled pixels share a group.
    index = np.full(hole.shape, -1, dtype=np.int64)
    batches = _batches(group, count)
    for done, members in enumerate(batches):
        r = np.ascontiguousarray(rows[members])
        c = np.ascontiguousarray(cols[members])
        index[r, c] = np.arange(r.size)
        a_rows, a_cols, a_vals, rhs = kernels.assemble_system(r, c, index, data, order, tension)
        if source is not None:
            rhs += source[r, c]
        if screening > 0.0:
            diagonal = np.arange(r.size)
            a_rows = np.concatenate([a_rows, diagonal])
            a_cols = np.concatenate([a_cols, diagonal])
            a_vals = np.concatenate([a_vals, np.full(r.size, float(screening))])
            rhs += screening * anchor[r, c]
        if r.size < (_MULTIGRID_MIN if order == 2 else _DIRECT_MAX_LAPLACIAN):
            solution = _solve_direct(a_rows, a_cols, a_vals, rhs, r, c, group[members])
        elif order == 2:
            # assemble_system writes the rows in order: CSR without a COO conversion.
            indptr = np.concatenate(([0], np.cumsum(np.bincount(a_rows, minlength=r.size))))
            matrix = sparse.csr_array((a_vals, a_cols, indptr), shape=(r.size, r.size))
            a_rows = a_cols = a_vals = indptr = None  # the matrix holds what is needed
            solution = _solve_multigrid(matrix, r, c, hole.shape, rhs,
                                        share=_MG_COARSEST_SHARE)
        else:
            matrix = sparse.csr_array((a_vals, (a_rows, a_cols)), shape=(r.size, r.size))
            a_rows = a_cols = a_vals = None  # the triplets: 24 bytes an entry
            first = start[r, c] if start is not None else None
            solution = _solve_multigrid(matrix, r, c, hole.shape, rhs, first)
        filled[r, c] = solution
        report("diffusion", done + 1, len(batches))
    return filled


def _prolongation(rows, cols, shape):
    """Bilinear prolongation from 2x2 pixel blocks to the hole pixels (rows, cols).

    The coarse unknowns are the blocks holding at least one hole pixel (cell-centred:
    a block's value sits at its centre). A fine pixel takes 9/16 of its own block,
    3/16 of each of the two blocks beside it on its side and 1/16 of the diagonal one;
    a block outside the image passes its weight to the pixel's own block (the
    Neumann border), a block of known pixels drops it (the correction is zero there:
    Dirichlet). Bilinear transfers, unlike piecewise-constant aggregation, keep the
    Galerkin coarse operator of a fourth-order equation a good one.

    Returns
    -------
    prolong : sparse.csr_array, shape (n, m)
    coarse_rows, coarse_cols : ndarray, shape (m,)
        Block coordinates of the coarse unknowns.
    coarse_shape : tuple of int
    """
    coarse_shape = ((shape[0] + 1) // 2, (shape[1] + 1) // 2)
    index, coarse_rows, coarse_cols = kernels.coarse_blocks(rows, cols, *coarse_shape)
    indptr, indices, values = kernels.bilinear_prolongation(rows, cols, index)
    prolong = sparse.csr_array((values, indices, indptr), shape=(rows.size, coarse_rows.size))
    return prolong, coarse_rows, coarse_cols, coarse_shape


def _csr_parts(matrix, dtype=np.float64):
    """(indptr, indices, values) of a CSR matrix, as the kernels take them.

    int32 indices (every hole of a photo fits) and ``dtype`` values: the products
    stream these arrays, so their width is most of their cost.
    """
    return (matrix.indptr.astype(np.int32), matrix.indices.astype(np.int32),
            np.ascontiguousarray(matrix.data, dtype=dtype))


def _cast(parts):
    """CSR parts with the multigrid cycle's value type."""
    return parts[0], parts[1], parts[2].astype(_MG_DTYPE)


def _lu_factors(matrix):
    """SuperLU's factors of the SPD ``matrix`` as ``kernels.lu_solve`` takes them.

    The factorisation is SuperLU's (symmetric mode, minimum degree on A + A^T); the
    solves are Numba's (see ``kernels.lu_solve`` for why not ``SuperLU.solve``).
    """
    factor = splu(matrix.tocsc(), permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0,
                  options={"SymmetricMode": True})
    lower, upper = factor.L.tocsc(), factor.U.tocsc()
    return (lower.indptr, lower.indices, lower.data, upper.indptr, upper.indices, upper.data,
            factor.perm_r, factor.perm_c)


def _multigrid(matrix, rows, cols, shape, share=0, parts=None):
    """Multigrid V-cycle preconditioner for the SPD bilaplacian system over a hole.

    Geometric coarsening of the hole pixels (rows, cols) of an image of ``shape``
    into 2x2 blocks (:func:`_prolongation`), Galerkin coarse operators P^T A P down
    to ``_MG_COARSEST`` unknowns or 1 / ``share`` of the fine level's, if more
    (factorised; ``share`` 0: the former only), and Chebyshev-accelerated Jacobi
    smoothing of degree ``_MG_DEGREE`` on each level, the same before and after the
    coarse correction so that the cycle is a symmetric preconditioner for CG. The
    smoother's interval ends at a Gershgorin bound of D^-1 A's largest eigenvalue.
    All products run in Numba kernels on CSR arrays, every colour channel at once.

    Returns
    -------
    callable
        residual (n, C) -> correction (n, C).
    """
    levels = []
    if parts is None:  # the caller's float64 CSR parts of ``matrix``, or our own
        parts = _csr_parts(matrix)
    size = matrix.shape[0]
    stop = max(_MG_COARSEST, size // share if share else 0)
    while size > stop:
        prolong, rows, cols, shape = _prolongation(rows, cols, shape)
        coarse = prolong.shape[1]
        if coarse > 0.8 * size:
            break  # not coarsening (should not happen on 2x2 blocks); factorise here
        down = (prolong.indptr, prolong.indices, prolong.data)
        up = kernels.csr_transpose(*down, coarse)
        # Gershgorin's bound of D^-1 A's largest eigenvalue: exact for the fine
        # bilaplacian's interior; a power-iteration estimate, tighter on the coarse
        # levels, can fall short and make the smoother (and CG) diverge.
        diagonal, upper = kernels.jacobi_bound(*parts)
        levels.append((_cast(parts), (1.0 / diagonal).astype(_MG_DTYPE), upper,
                       _cast(down), _cast(up)))
        # Galerkin coarse operator R A P (R = P^T), in float64 and two products.
        parts = kernels.csr_matmul(*up, *kernels.csr_matmul(*parts, *down, coarse), coarse)
        size = coarse
    matrix = sparse.csr_array((parts[2], parts[1], parts[0]), shape=(size, size))
    coarsest = _lu_factors(matrix)

    def cycle(depth, rhs):
        if depth == len(levels):
            return kernels.lu_solve(*coarsest, rhs.astype(np.float64)).astype(_MG_DTYPE)
        parts, inv_diag, upper, prolong, restrict = levels[depth]
        smooth = (inv_diag, upper / _MG_RATIO, upper, _MG_DEGREE)
        x = kernels.chebyshev_smooth(*parts, smooth[0], np.zeros_like(rhs), rhs, *smooth[1:],
                                     True)
        residual = kernels.csr_residual(*parts, x, rhs)
        coarse = cycle(depth + 1, kernels.csr_multiply(*restrict, residual))
        x += kernels.csr_multiply(*prolong, coarse)
        # zero_start passed, not defaulted: one compiled specialisation, not two.
        return kernels.chebyshev_smooth(*parts, smooth[0], x, rhs, *smooth[1:], False)

    return lambda residual: cycle(0, residual.astype(_MG_DTYPE)).astype(np.float64)


def _solve_multigrid(matrix, rows, cols, shape, rhs, start=None, share=0):
    """Solve the system ``matrix`` x = ``rhs`` (n, C) over hole pixels by
    multigrid-preconditioned CG, from ``start`` (n, C; default zero); ``share`` as
    in :func:`_multigrid` (the bilaplacian's callers pass ``_MG_COARSEST_SHARE``).

    Falls back to the direct factorisation if CG has not converged within
    ``_MG_MAXITER`` steps (never seen; a safety net, not a path).
    """
    channels = rhs.shape[1]
    if channels < 4:
        # The kernels' fast path keeps four channels' sums in registers; zero
        # channels cost less than the general loop would (they stay zero).
        rhs = np.pad(rhs, ((0, 0), (0, 4 - channels)))
    first = np.zeros_like(rhs)
    if start is not None:
        first[:, :channels] = start
    parts = _csr_parts(matrix)
    with kernels.threads(rhs.shape[0] >= _PARALLEL_MIN):
        solution = _solve_cg(lambda v: kernels.csr_multiply(*parts, v), rhs, first,
                             _multigrid(matrix, rows, cols, shape, share, parts), _MG_RTOL,
                             _MG_MAXITER)
        residual = kernels.csr_residual(*parts, solution, rhs)
    rhs, solution, residual = rhs[:, :channels], solution[:, :channels], residual[:, :channels]
    if np.all(np.sqrt((residual * residual).sum(axis=0))
              <= 10 * _MG_RTOL * np.sqrt((rhs * rhs).sum(axis=0))):
        return solution
    coo = matrix.tocoo()
    return _solve_spd(coo.row, coo.col, coo.data, rhs, rhs.shape[0])


def _solve_cg(multiply, rhs, start, precondition, rtol, maxiter):
    """Preconditioned conjugate gradients, all channels at once, from ``start`` (n, C),
    which, if C-contiguous float64, becomes the iterate and is overwritten.

    ``multiply`` and ``precondition`` map (n, C) arrays to (n, C) arrays; stops when
    every channel's residual is within ``rtol`` of its right-hand side's norm, or
    after ``maxiter`` steps.
    """
    x = np.ascontiguousarray(start, dtype=np.float64)  # updated in place: no copy needed
    residual = np.ascontiguousarray(rhs - multiply(x))
    z = precondition(residual)
    direction = z.copy()
    rz = kernels.column_dot(residual, z)
    target = rtol * np.sqrt(kernels.column_dot(rhs, rhs))
    norm2 = kernels.column_dot(residual, residual)
    for _ in range(maxiter):
        if np.all(np.sqrt(norm2) <= target):
            break
        product = np.ascontiguousarray(multiply(direction))
        step = rz / np.maximum(kernels.column_dot(direction, product), 1e-300)
        norm2 = kernels.cg_advance(x, residual, direction, product, step)
        previous = z
        z = precondition(residual)
        rz_new = kernels.column_dot(residual, z)
        # Polak-Ribiere: r (z - z_old), not r z. The same in exact arithmetic, and
        # robust to a preconditioner that is not exactly linear (the float32 cycle).
        beta = (rz_new - kernels.column_dot(residual, previous)) / np.maximum(rz, 1e-300)
        kernels.cg_turn(direction, z, np.maximum(beta, 0.0))
        rz = rz_new
    return x


def warm_large_holes() -> None:
    """Compile the multigrid CG's kernels, which only holes of more than
    ``_MULTIGRID_MIN`` (order 2) or ``_DIRECT_MAX_LAPLACIAN`` (order 1) pixels reach,
    by solving one such hole of each order (for ``inpaintkit warmup``; about 0.3 s
    once compiled)."""
    side = int(np.ceil(np.sqrt(max(_MULTIGRID_MIN, _DIRECT_MAX_LAPLACIAN + 1)))) + 1
    hole = np.zeros((side + 8, side + 8), bool)
    hole[4:-4, 4:-4] = True
    data = np.random.default_rng(0).random((*hole.shape, 3))
    _solve_elliptic(data.copy(), hole, 2, tension=0.3)
    _solve_elliptic(data.copy(), hole, 1, start=data)


def harmonic_fill(data, hole):
    """Harmonic (Laplace) fill of ``hole`` in prepared data, for other methods' first estimates.

    Parameters
    ----------
    data : ndarray, shape (H, W, C), float64
    hole : ndarray, shape (H, W), bool

    Returns
    -------
    ndarray, shape (H, W, C), float64
        ``data`` with the hole solved (the harmonic solution obeys the maximum
        principle, so no clipping is needed).
    """
    return _solve_elliptic(data, hole, 1)


def poisson_fill(data, hole, source, start=None, *, screening=0.0, anchor=None):
    """Solve Poisson's equation (-L) u = ``source`` over ``hole``, known pixels fixed.

    L is the 4-neighbour graph Laplacian (Neumann at the image border), as in
    :func:`harmonic_fill`. With ``source`` the negated divergence of a guidance
    field, this is the gradient-domain reconstruction of Perez et al. (2003): the
    fill whose differences best match the guidance, joined to the known pixels.

    Parameters
    ----------
    data : ndarray, shape (H, W, C), float64
        Modified in place: the hole pixels get the solution.
    hole : ndarray, shape (H, W), bool
    source : ndarray, shape (H, W, C), float64
        Right-hand side, read at hole pixels only.
    start : ndarray, shape (H, W, C), optional
        A guess of the solution, read at hole pixels: where the iterative path of
        groups too large to factorise starts.
    screening : float, default 0.0
        With s > 0, solve the screened equation (s - L) u = ``source`` + s ``anchor``
        instead: the fill whose differences best match the guidance and whose values
        stay near ``anchor``, the minimiser of ||grad u - g||^2 + s ||u - anchor||^2
        (the reconstruction of Darabi et al. 2012, Image Melding).
    anchor : ndarray, shape (H, W, C), optional
        The values the screened solution is pulled to, read at hole pixels;
        required when ``screening > 0``.

    Returns
    -------
    ndarray
        ``data``.
    """
    if screening > 0.0 and anchor is None:
        raise ValueError("poisson_fill: screening > 0 needs an anchor")
    return _solve_elliptic(data, hole, 1, source=source, start=start, screening=screening,
                           anchor=anchor)


def _hole_box(hole, margin):
    """Slices of the hole's bounding box grown by ``margin`` pixels (clipped to the image).

    With ``margin`` at least the stencil's reach, computing on the crop is exact: its
    edges are either the image's own border or farther from every hole pixel than
    any stencil reaches.
    """
    rows = np.flatnonzero(hole.any(axis=1))
    cols = np.flatnonzero(hole.any(axis=0))
    height, width = hole.shape
    return (slice(max(rows[0] - margin, 0), min(rows[-1] + margin + 1, height)),
            slice(max(cols[0] - margin, 0), min(cols[-1] + margin + 1, width)))


def _clip_hole(filled, hole, low, high):
    rows, cols = np.nonzero(hole)
    filled[rows, cols] = np.clip(filled[rows, cols], low, high)
    return filled


# --------------------------------------------------------------------------------------
# small holes: one banded solve in NumPy, without the kernels and SciPy
# --------------------------------------------------------------------------------------

#: Holes of at most this many pixels (harmonic, biharmonic, tension) are solved by
#: :func:`_solve_small`: the system assembled in NumPy and solved by a banded Cholesky
#: factorisation, the same solution as the kernels and SuperLU within rounding (about
#: 1e-13), without loading Numba and SciPy: their import and Numba's first kernel
#: load cost about 0.7 s of CPU in a fresh process (`inpaintkit fill`), against 4-35 ms
#: for this path at 120-1000 unknowns (0.7-5 ms with the kernels already loaded;
#: bench/startup.py). Not LAPACK's dense solve: OpenBLAS threads it from 100 unknowns,
#: and on a loaded machine a 100x100 solve then took 0.2 s instead of 0.1 ms.
_SMALL_UNKNOWNS = 1000
#: ... and while the factorisation's work, unknowns x bandwidth^2, stays under this
#: (tens of milliseconds in its per-column loop).
_SMALL_WORK = 2e7

#: The 4-neighbour steps (up, down, left, right), in the kernels' order.
_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


def _band(hole, order):
    """Pixel order for :func:`_solve_small`: ``(transposed, width)``.

    The hole pixels in raster order (``transposed`` False) or column by column (True),
    whichever keeps the system's nonzeros closer to its diagonal; ``width`` is their
    largest distance from it (the stencil reaches ``order`` steps).
    """
    best = None
    for transposed in (False, True):
        grid = hole.T if transposed else hole
        rows, cols = np.nonzero(grid)
        index = np.full(grid.shape, -1, dtype=np.int64)
        index[rows, cols] = np.arange(rows.size)
        width = 0
        for dr in range(0, order + 1):
            for dc in range(-order, order + 1):
                if abs(dr) + abs(dc) > order or (dr == 0 and dc <= 0):
                    continue  # later pixels only: the matrix is symmetric
                near_r, near_c = rows + dr, cols + dc
                ok = (near_r < grid.shape[0]) & (near_c >= 0) & (near_c < grid.shape[1])
                near = index[near_r[ok], near_c[ok]]
                reach = near - index[rows[ok], cols[ok]]
                if (near >= 0).any():
                    width = max(width, int(reach[near >= 0].max()))
        if best is None or width < best[1]:
            best = (transposed, width)
    return best


def _small_system(hole, order):
    """True when ``hole`` takes :func:`_solve_small`: few unknowns, a narrow band, and
    never where the iterative solvers take over from the direct one."""
    unknowns = int(np.count_nonzero(hole))
    direct_limit = _MULTIGRID_MIN if order == 2 else _DIRECT_MAX_LAPLACIAN
    if not 0 < unknowns <= _SMALL_UNKNOWNS or unknowns >= direct_limit:
        return False
    return unknowns * _band(hole, order)[1] ** 2 <= _SMALL_WORK


def _stencils(rows, cols, shape, order, tension):
    """The system's row of each hole pixel as (n, 5, 5) coefficients on its 5x5 window.

    The operator of ``kernels.assemble_system`` (same sums in the same order), for all
    hole pixels at once: -L (order 1), or (1 - T) L^2 - T L (order 2), with L the
    4-neighbour graph Laplacian, reflected at the image border.
    """
    height, width = shape
    coef = np.zeros((rows.size, 5, 5))

    def inside(i, j):
        return (i >= 0) & (i < height) & (j >= 0) & (j < width)

    def add_laplacian_row(weight, row_step, col_step):
        # ``weight`` times row q of L, q = each hole pixel moved by the step.
        i, j = rows + row_step, cols + col_step
        valid = inside(i, j)
        degree = np.zeros(rows.size)
        for dr, dc in _STEPS:
            edge = valid & inside(i + dr, j + dc)
            degree += edge
            coef[:, row_step + dr + 2, col_step + dc + 2] += np.where(edge, weight, 0.0)
        coef[:, row_step + 2, col_step + 2] -= np.where(valid, weight * degree, 0.0)

    if order == 1:
        add_laplacian_row(-1.0, 0, 0)
        return coef
    degree = sum(inside(rows + dr, cols + dc).astype(np.float64) for dr, dc in _STEPS)
    for dr, dc in _STEPS:
        add_laplacian_row(1.0, dr, dc)
    add_laplacian_row(-degree, 0, 0)
    if tension != 0.0:
        coef *= 1.0 - tension
        add_laplacian_row(-tension, 0, 0)
    return coef


def _banded_cholesky_solve(matrix, rhs, width):
    """Solve the SPD system ``matrix`` x = ``rhs`` (n, C) whose nonzeros lie at most
    ``width`` from the diagonal: Cholesky factorisation within the band, then the two
    triangular solves. ``matrix`` is overwritten."""
    n = matrix.shape[0]
    for k in range(n):
        end = min(k + width + 1, n)
        pivot = np.sqrt(matrix[k, k])
        column = matrix[k + 1:end, k] / pivot
        matrix[k, k] = pivot
        matrix[k + 1:end, k] = column
        matrix[k + 1:end, k + 1:end] -= np.multiply.outer(column, column)
    x = rhs.copy()
    for k in range(n):  # L y = rhs
        end = min(k + width + 1, n)
        x[k] /= matrix[k, k]
        x[k + 1:end] -= matrix[k + 1:end, k, None] * x[k]
    for k in range(n - 1, -1, -1):  # L^T x = y
        end = min(k + width + 1, n)
        x[k] = (x[k] - (matrix[k + 1:end, k, None] * x[k + 1:end]).sum(axis=0)) / matrix[k, k]
    return x


def _dense_system(rows, cols, data, order, tension):
    """``kernels.assemble_system`` in NumPy, as a dense (n, n) matrix and (n, C) rhs,
    for the hole pixels (rows, cols) in that order (the map of hole pixels is
    rebuilt from them)."""
    coef = _stencils(rows, cols, data.shape[:2], order, tension)
    index = np.full(data.shape[:2], -1, dtype=np.int64)
    index[rows, cols] = np.arange(rows.size)
    matrix = np.zeros((rows.size, rows.size))
    rhs = np.zeros((rows.size, data.shape[2]))
    for a in range(5):
        for b in range(5):
            values = coef[:, a, b]
            at = np.flatnonzero(values)  # nonzero coefficients lie inside the image
            near_r, near_c = rows[at] + a - 2, cols[at] + b - 2
            column = index[near_r, near_c]
            unknown = column >= 0
            matrix[at[unknown], column[unknown]] = values[at[unknown]]
            known = ~unknown
            rhs[at[known]] -= values[at[known], None] * data[near_r[known], near_c[known]]
    return matrix, rhs


def _solve_small(data, hole, order, tension=0.0):
    """:func:`_solve_elliptic` for small holes, in NumPy: one banded solve of the whole system.

    Same arguments and result (within rounding) as ``_solve_elliptic`` without
    ``source``: the hole pixels of ``data`` (H, W, C) get the solution, in place.
    Groups of coupled holes are independent blocks of the one system, so solving
    them together gives each its own solution. See :func:`_small_system` for the
    sizes it is meant for.
    """
    transposed, width = _band(hole, order)
    if transposed:
        cols, rows = np.nonzero(hole.T)
    else:
        rows, cols = np.nonzero(hole)
    matrix, rhs = _dense_system(rows, cols, data, order, tension)
    data[rows, cols] = _banded_cholesky_solve(matrix, rhs, width)
    report("diffusion", 1, 1)
    return data


def needs_kernels(hole, *, variant="tension", **options):
    """Whether :func:`inpaint_diffusion` runs Numba kernels on ``hole`` (H, W) bool: not
    for a small hole of ``harmonic``, ``biharmonic`` or ``tension`` in a small image
    (:func:`_small_system`). For the CLI's first-use compile notice; large images
    count as needing them."""
    if not hole.any():
        return False
    if variant not in ("harmonic", "biharmonic", "tension"):
        return True
    if hole.size >= 4 * REGION_BLOCK * REGION_BLOCK:
        return True  # the per-crop path (kernels.known_range) or windows
    return not _small_system(hole[_hole_box(hole, 2)], 1 if variant == "harmonic" else 2)


def _known_range(data, hole):
    """``kernels.known_range`` in NumPy: per-channel (min, max) over the known pixels."""
    known = ~hole[:, :, None]
    return (np.min(data, axis=(0, 1), where=known, initial=np.inf),
            np.max(data, axis=(0, 1), where=known, initial=-np.inf))


# --------------------------------------------------------------------------------------
# tv and transport: iterations over the hole pixels, from the harmonic fill
# --------------------------------------------------------------------------------------

#: Iterations per kernel call between convergence checks and progress reports.
_CHUNK = 25


def _solve_tv(data, hole, iterations, tolerance):
    """Total-variation fill by Chambolle-Pock, started from the harmonic fill (in place)."""
    work = _solve_elliptic(data, hole, 1)
    rows, cols = np.nonzero(hole)
    index = kernels.hole_index_map(rows, cols, *hole.shape)
    dual_rows, dual_cols, dual_nb, hole_nb = kernels.tv_tables(rows, cols, index, *hole.shape)
    u = np.ascontiguousarray(work[rows, cols])
    u_bar = u.copy()
    # Start the dual near grad u / |grad u| (a subgradient of TV at the harmonic fill;
    # gradients below 0.01 are damped). From y = 0 the harmonic fill is a fixed point
    # (div(sigma grad u) = 0) until y saturates, which would stall the first
    # iterations and fool the stopping test.
    height, width = hole.shape
    right = np.minimum(dual_cols + 1, width - 1)
    below = np.minimum(dual_rows + 1, height - 1)
    here = work[dual_rows, dual_cols]
    dual = np.stack([work[dual_rows, right] - here, work[below, dual_cols] - here], axis=2)
    norm = np.sqrt((dual ** 2).sum(axis=(1, 2), keepdims=True))
    dual = np.ascontiguousarray(dual / np.maximum(norm, 1e-2))
    # tau * sigma * ||grad||^2 <= 1 with ||grad||^2 <= 8 (Chambolle and Pock, Thm. 1).
    tau = sigma = 1.0 / np.sqrt(8.0)
    low, high = kernels.known_range(data, hole)
    done = 0
    while done < iterations:
        step = min(_CHUNK, iterations - done)
        change = kernels.tv_iterate(work, dual_rows, dual_cols, dual_nb, hole_nb,
                                    u, u_bar, dual, step, tau, sigma, low, high)
        done += step
        report("tv", done, iterations)
        if change < tolerance:
            break
    work[rows, cols] = u
    return work


def _solve_transport(data, hole, iterations, tolerance, inpaint_steps, diffusion_steps):
    """Bertalmio et al. transport fill, started from the harmonic fill (in place)."""
    work = _solve_elliptic(data, hole, 1)
    rows, cols = np.nonzero(hole)
    index = kernels.hole_index_map(rows, cols, *hole.shape)
    band_rows, band_cols, hole_nb = kernels.transport_tables(rows, cols, index, *hole.shape)
    channels = work.shape[2]
    lap = np.zeros((band_rows.size, channels))
    rate = np.zeros((rows.size, channels))
    cycle = inpaint_steps + diffusion_steps
    done = 0
    while done < iterations:
        diff2, size2 = kernels.transport_cycle(work, rows, cols, band_rows, band_cols,
                                               hole_nb, lap, rate, inpaint_steps,
                                               diffusion_steps, _TRANSPORT_DT, _EPS)
        done += cycle
        report("transport", min(done, iterations), iterations)
        # Relative change per time step over the cycle.
        if np.sqrt(diff2 / max(size2, 1e-300)) / cycle < tolerance:
            break
    return work


#: Time step of the transport and diffusion steps (Bertalmio et al. use 0.1).
_TRANSPORT_DT = 0.1
#: Regularises |grad I| in the isophote direction and the curvature.
_EPS = 1e-10


# --------------------------------------------------------------------------------------
# the public function
# --------------------------------------------------------------------------------------

def inpaint_diffusion(
    image,
    mask,
    *,
    variant: str = "tension",
    tension: float = 0.25,
    iterations: int = 2000,
    tolerance: float = 1e-5,
    inpaint_steps: int = 15,
    diffusion_steps: int = 2,
    radius: int = 5,
    sharpness: float = 25.0,
    sigma: float = 1.4,
    rho: float = 4.0,
    seed: int = 0,
):
    """Fill the hole of ``image`` by solving a diffusion-type PDE.

    Parameters
    ----------
    image : ndarray, shape (H, W) or (H, W, C)
        C in 1, 3, 4 (alpha is carried through); uint8, uint16, float32 or float64
        (floats in [0, 1]).
    mask : ndarray, shape (H, W), bool or integer
        Non-zero / True marks the hole.
    variant : {"tension", "biharmonic", "harmonic", "tv", "transport", "telea", "coherence"}
        The PDE. Default ``"tension"``, the best on quality (PSNR and SSIM) in
        ``bench/diffusion.py``.

        - ``"harmonic"``: Laplace's equation, Delta u = 0 in the hole, Dirichlet data
          from the known pixels, reflected (Neumann) at the image border.
        - ``"biharmonic"``: Delta^2 u = 0 with the 13-point stencil and the border
          handling of ``skimage.restoration.inpaint_biharmonic`` [1]_, whose result
          it reproduces; values are clipped to each channel's known range.
        - ``"tension"``: (1 - T) Delta^2 u - T Delta u = 0, the continuous-curvature
          spline in tension of Smith and Wessel [7]_ with T = ``tension``: joins the
          known pixels smoothly like ``biharmonic`` without its overshoot and
          ringing in large holes; clipped like ``biharmonic``.
        - ``"tv"``: minimum total variation (vectorial over the colour channels)
          with the known pixels fixed, Chan and Shen [2]_, solved by the
          Chambolle-Pock primal-dual algorithm [3]_ from the harmonic fill.
        - ``"transport"``: Bertalmio et al. [4]_, the Laplacian transported along
          the isophotes, ``inpaint_steps`` steps alternating with
          ``diffusion_steps`` steps of curvature (anisotropic) diffusion, from the
          harmonic fill.
        - ``"telea"``: fast marching, Telea [5]_. ``"coherence"``: coherence
          transport, Bornemann and Maerz [6]_.
    tension : float
        Read by ``tension``: T in [0, 1); 0 is ``biharmonic``, values near 1
        approach ``harmonic``. Default 0.25 (chosen on images outside the benchmark
        set; also the value Smith and Wessel suggest for smooth fields).
    iterations : int
        Read by ``tv`` and ``transport``: the most iterations (primal-dual
        iterations for ``tv``; time steps for ``transport``, rounded up to whole
        cycles of ``inpaint_steps + diffusion_steps``), in [1, 1_000_000]. Default 2000.
    tolerance : float
        Read by ``tv`` and ``transport``: stop when the relative change of the hole
        values, ``||u_new - u_old|| / ||u_old||`` per iteration, falls below it; in
        [0, 1]. Default 1e-5.
    inpaint_steps, diffusion_steps : int
        Read by ``transport``: the paper's A = 15 transport steps followed by B = 2
        diffusion steps; in [1, 1000] and [0, 1000].
    radius : int
        Read by ``telea`` and ``coherence``: neighbourhood radius in pixels, in
        [1, 100]. Default 5.
    sharpness : float
        Read by ``coherence``: kappa, how strongly the weights follow the coherence
        direction, in [0, 1000]. Default 25.
    sigma, rho : float
        Read by ``coherence``: pre-smoothing and structure-tensor integration scales
        in pixels, in (0, 50]. Defaults 1.4 and 4.0.
    seed : int
        Unused (all variants are deterministic); accepted for the common signature.

    Returns
    -------
    ndarray
        Same shape and dtype as ``image``; pixels outside the hole are unchanged.

    Raises
    ------
    ValueError
        For an unknown variant (listing the valid ones), an option out of range, or
        an invalid image or mask.

    Notes
    -----
    ``harmonic``, ``biharmonic``, ``tension``, ``tv`` and ``transport`` work on the
    hole's bounding box plus two pixels (the stencils' reach), so small holes in large
    images cost little. Holes scattered over a large image (scratches, dust) are
    split into groups far apart (:func:`inpaintkit._image.hole_regions`), and every
    variant but ``tv`` fills each group on its own crop plus its reach: only the
    crops are converted to float (for ``harmonic``, ``biharmonic`` and ``tension``
    in images from 128x128 px, only the hole and the known pixels within the
    stencils' reach), with the same result as on the whole image. The
    linear systems (symmetric positive definite, over the hole pixels only, all
    channels sharing one factorisation) are factorised per batch of coupled holes: by
    a banded Cholesky kernel where the pixels, group by group in raster or column
    order, keep the band narrow (scratches, thin strokes), else by SuperLU in
    symmetric mode; in images under 128x128 px, holes of up to 1000 pixels are instead
    solved in NumPy alone (the same solution within rounding; a fresh process then
    imports neither SciPy nor Numba). Larger groups are
    solved by conjugate gradients preconditioned with a geometric multigrid V-cycle
    (float32, Galerkin coarse levels), in bounded memory: ``harmonic`` above 5x10^4
    unknowns, ``tension`` and ``biharmonic`` from 2x10^4; time linear in the hole
    (6-12 us per hole pixel of an RGB photo in CPU time on the benchmark's shared
    machine), 3.3-3.5x faster than the factorisation at 2.2x10^5 unknowns, memory
    linear in the hole, within about 1e-8 of it (mean; 1.6e-7 at most on the
    benchmark). Systems from 3x10^4 unknowns share the work over Numba's threads,
    with the same result on any number of threads. ``tv`` and ``transport`` start from the harmonic fill.

    References
    ----------
    .. [1] S. B. Damelin and N. S. Hoang, "On surface completion and image
       inpainting by biharmonic functions: numerical aspects", Int. J. Math. Math.
       Sci. 2018. :doi:`10.1155/2018/3950312`
    .. [2] T. F. Chan and J. Shen, "Mathematical models for local nontexture
       inpaintings", SIAM J. Appl. Math. 62(3), 2002. :doi:`10.1137/S0036139900368844`
    .. [3] A. Chambolle and T. Pock, "A first-order primal-dual algorithm for convex
       problems with applications to imaging", J. Math. Imaging Vis. 40, 2011.
       :doi:`10.1007/s10851-010-0251-1`
    .. [4] M. Bertalmio, G. Sapiro, V. Caselles and C. Ballester, "Image
       inpainting", SIGGRAPH 2000. :doi:`10.1145/344779.344972`
    .. [5] A. Telea, "An image inpainting technique based on the fast marching
       method", J. Graphics Tools 9(1), 2004. :doi:`10.1080/10867651.2004.10487596`
    .. [6] F. Bornemann and T. Maerz, "Fast image inpainting based on coherence
       transport", J. Math. Imaging Vis. 28, 2007. :doi:`10.1007/s10851-007-0017-6`
    .. [7] W. H. F. Smith and P. Wessel, "Gridding with continuous curvature splines
       in tension", Geophysics 55(3), 1990. :doi:`10.1190/1.1442837`

    Examples
    --------
    >>> import numpy as np
    >>> ramp = np.tile(np.linspace(0.0, 1.0, 32), (32, 1))
    >>> mask = np.zeros((32, 32), bool); mask[10:20, 5:25] = True
    >>> out = inpaint_diffusion(ramp, mask, variant="harmonic")
    >>> bool(np.abs(out - ramp).max() < 1e-9)
    True
    """
    if not isinstance(variant, str) or variant not in VARIANTS:
        raise ValueError(f"unknown variant {variant!r}; valid variants: {', '.join(VARIANTS)}")
    tension = check_float("tension", tension, low=0.0, high=1.0, high_open=True)
    iterations = check_int("iterations", iterations, low=1, high=1_000_000)
    tolerance = check_float("tolerance", tolerance, low=0.0, high=1.0)
    inpaint_steps = check_int("inpaint_steps", inpaint_steps, low=1, high=1000)
    diffusion_steps = check_int("diffusion_steps", diffusion_steps, low=0, high=1000)
    radius = check_int("radius", radius, low=1, high=100)
    sharpness = check_float("sharpness", sharpness, low=0.0, high=1000.0)
    sigma = check_float("sigma", sigma, low=0.0, high=50.0, low_open=True)
    rho = check_float("rho", rho, low=0.0, high=50.0, low_open=True)

    options = dict(tension=tension, iterations=iterations, tolerance=tolerance,
                   inpaint_steps=inpaint_steps, diffusion_steps=diffusion_steps,
                   radius=radius, sharpness=sharpness, sigma=sigma, rho=rho)
    image = check_image(image)
    hole = check_mask(mask, image.shape[:2])
    # tv stays on one box: its primal-dual iterates are clipped to the box's known
    # range, so per-crop ranges would change its result.
    regions = None if variant == "tv" else _regions(hole, _reach(variant, radius, sigma, rho))
    # Images small enough for needs_kernels to say no may take the NumPy path; in
    # larger ones the linear variants convert only the hole's band (the stencils'
    # reach) to float, and clip to the range of the image's known pixels.
    numpy_path = hole.size < 4 * REGION_BLOCK * REGION_BLOCK
    band = variant in ("harmonic", "biharmonic", "tension") and not numpy_path
    clipped = variant in ("biharmonic", "tension")
    if regions is None:
        prep = prepare_band(image, hole, 2) if band else prepare(image, hole)
        if not check_has_hole(prep):
            return np.array(image, copy=True)
        channel_range = _known_channel_range(image, hole) if band and clipped else None
        return prep.finish(_fill(prep.data, prep.mask, variant, options, channel_range,
                                 numpy_path=numpy_path))
    # Scattered holes in a large photo: fill each group on its own crop, so time and
    # memory follow the hole, not the photo (the float conversion of a 37 MP photo
    # alone takes longer than filling its scratches).
    check_known_values(image, hole)
    channel_range = _known_channel_range(image, hole) if clipped else None
    out = np.array(image, copy=True)
    for done, (box, own) in enumerate(regions):
        prep = prepare_band(image[box], hole[box], 2) if band else prepare(image[box], hole[box])
        crop = prep.finish(_fill(prep.data, prep.mask, variant, options, channel_range,
                                 numpy_path=False))
        out[box][own] = crop[own]
        report("diffusion regions", done + 1, len(regions))
    return out


def _reach(variant, radius, sigma, rho):
    """How far (pixels) from a hole pixel a variant reads: the crops' margin."""
    if variant == "telea":
        return radius + 2  # neighbours within radius, and their gradients
    if variant == "coherence":
        # Neighbours within radius; the structure tensor's two Gaussians (truncated
        # at 2 sigma, see fast_marching._gaussian) and its gradient.
        return radius + max(round(2 * sigma), 1) + max(round(2 * rho), 1) + 4
    return 2  # the 13-point bilaplacian stencil (and transport's)


#: The crops of :func:`hole_regions` are used while they cover at most this fraction
#: of the image; above it one box over the whole hole is as cheap.
_REGION_AREA = 0.25


def _regions(hole, margin):
    """The hole's independent crops, or None when the whole-image path is as good."""
    if margin >= REGION_BLOCK or hole.size < 4 * REGION_BLOCK * REGION_BLOCK:
        return None
    regions = hole_regions(hole, margin)
    if not regions:
        return None
    area = sum((box[0].stop - box[0].start) * (box[1].stop - box[1].start) for box, _ in regions)
    return regions if area <= _REGION_AREA * hole.size else None


def _known_channel_range(image, hole):
    """Per-channel (min, max) of the colour channels over the known pixels, in [0, 1].

    One pass over the image in its own dtype (no float64 copy of the photo).
    """
    colour = image[..., :3] if image.ndim == 3 and image.shape[2] == 4 else image
    if colour.ndim == 2:
        colour = colour[:, :, None]
    scale = float(np.iinfo(colour.dtype).max) if colour.dtype.kind == "u" else 1.0
    low, high = kernels.known_range(colour, hole)
    return low / scale, high / scale


def _fill(data, hole, variant, options, channel_range=None, *, numpy_path=True):
    """Run ``variant`` on prepared ``data`` (H, W, C) float64; returns the filled array.

    ``channel_range`` (low, high), when given, is the known range biharmonic and
    tension clip to (that of the whole image when ``data`` is a crop of it). With
    ``numpy_path`` a small hole may be solved in NumPy alone (:func:`_solve_small`):
    for small images, where that spares a fresh process Numba's start-up; larger
    images load the kernels anyway, and their banded solve is 10-30x faster.
    """
    if variant in ("harmonic", "biharmonic", "tension", "tv", "transport"):
        # Work on the hole's bounding box plus the stencils' reach (2 pixels), so the
        # cost follows the hole, not the image. A box that spans the whole image is a
        # view of ``data`` (no copy); the solvers write into its hole pixels.
        box = _hole_box(hole, 2)
        sub = np.ascontiguousarray(data[box])
        sub_hole = np.ascontiguousarray(hole[box])
        # A small hole of the linear variants: NumPy alone (no Numba, no SciPy).
        small = numpy_path and variant in ("harmonic", "biharmonic", "tension") and \
            _small_system(sub_hole, 1 if variant == "harmonic" else 2)
        solve = _solve_small if small else _solve_elliptic
        if variant == "harmonic":
            solve(sub, sub_hole, 1)
        elif variant in ("biharmonic", "tension"):
            # No maximum principle: like scikit-image, clip to each channel's range
            # over all the known pixels of the image.
            known_range = _known_range if small else kernels.known_range
            low, high = channel_range if channel_range is not None else known_range(data, hole)
            solve(sub, sub_hole, 2, options["tension"] if variant == "tension" else 0.0)
            _clip_hole(sub, sub_hole, low, high)
        elif variant == "tv":
            _solve_tv(sub, sub_hole, options["iterations"], options["tolerance"])
        else:
            _solve_transport(sub, sub_hole, options["iterations"], options["tolerance"],
                             options["inpaint_steps"], options["diffusion_steps"])
        if not np.shares_memory(sub, data):  # a box over the whole image is data itself
            data[box] = sub
        return data
    if variant == "telea":
        from .fast_marching import fill_telea  # written alongside; imported lazily

        return fill_telea(data, hole, radius=options["radius"])
    from .fast_marching import fill_coherence

    return fill_coherence(data, hole, radius=options["radius"], sharpness=options["sharpness"],
                          sigma=options["sigma"], rho=options["rho"])
