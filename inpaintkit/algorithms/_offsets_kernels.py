"""Numba kernels for offset-statistics completion (see ``offsets.py`` for the API).

Conventions: ``values`` is the working image, float64 (H, W, C); ``known`` (H, W)
bool marks the pixels a shifted copy may read; ``labels`` (H, W) int32 holds, at
each hole pixel, the index of its offset in ``offsets`` (K, 2) int64 (row, col
shift: pixel p is copied from p + offsets[label]); known pixels carry
``IDENTITY`` (they keep their own value, shift (0, 0)) and hole pixels that no
offset can fill carry ``UNRESOLVED`` (left out of every term).

The pairwise term is He and Sun's (2012, eq. 3) smoothness of two neighbours p, q
with offsets a, b: |I(p + a) - I(p + b)|^2 + |I(q + a) - I(q + b)|^2. A sample
that falls outside the image or on an unknown pixel costs ``penalty`` (the
copies cannot be checked to agree there), except the identity sample of a hole
pixel, which carries no information and costs nothing: so an edge from a hole
pixel p to a known neighbour q costs |I(q + a) - I(q)|^2, the agreement of the
copy with the known border.
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

IDENTITY = -1
UNRESOLVED = -2

_STEPS_Y = (0, 0, 1, -1)
_STEPS_X = (1, -1, 0, 0)


@jit
def _shift(offsets, label):
    if label < 0:
        return 0, 0
    return offsets[label, 0], offsets[label, 1]


@jit
def is_valid(known, offsets, label, y, x):
    """Whether pixel (y, x) may take ``label``: its shifted sample is inside and known."""
    dy, dx = _shift(offsets, label)
    sy = y + dy
    sx = x + dx
    return 0 <= sy < known.shape[0] and 0 <= sx < known.shape[1] and known[sy, sx]


@jit
def sample_term(values, known, offsets, label_a, label_b, y, x, penalty):
    """|I(x + a) - I(x + b)|^2 at pixel (y, x), with the missing-sample rules above."""
    if label_a == label_b:
        return 0.0
    height = known.shape[0]
    width = known.shape[1]
    ay, ax = _shift(offsets, label_a)
    by, bx = _shift(offsets, label_b)
    ya = y + ay
    xa = x + ax
    yb = y + by
    xb = x + bx
    known_a = 0 <= ya < height and 0 <= xa < width and known[ya, xa]
    known_b = 0 <= yb < height and 0 <= xb < width and known[yb, xb]
    if known_a and known_b:
        total = 0.0
        for c in range(values.shape[2]):
            d = values[ya, xa, c] - values[yb, xb, c]
            total += d * d
        return total
    if (not known_a and label_a == IDENTITY) or (not known_b and label_b == IDENTITY):
        return 0.0
    return penalty


@jit
def pair_cost(values, known, offsets, label_p, label_q, py, px, qy, qx, penalty):
    """He and Sun's smoothness V(a, b) of neighbours p (label a) and q (label b)."""
    return (sample_term(values, known, offsets, label_p, label_q, py, px, penalty)
            + sample_term(values, known, offsets, label_p, label_q, qy, qx, penalty))


@jit
def labelling_energy(values, known, labels, offsets, hole_y, hole_x, penalty):
    """Total smoothness over the 4-neighbour edges that touch a labelled hole pixel.

    ``hole_y``, ``hole_x`` list the hole pixels; each edge is counted once (an
    edge between two hole pixels from its upper or left end). The data term is 0:
    labels are only ever valid.
    """
    height = labels.shape[0]
    width = labels.shape[1]
    total = 0.0
    for k in range(hole_y.shape[0]):
        y = hole_y[k]
        x = hole_x[k]
        label_p = labels[y, x]
        if label_p == UNRESOLVED:
            continue
        for s in range(4):
            qy = y + _STEPS_Y[s]
            qx = x + _STEPS_X[s]
            if qy < 0 or qy >= height or qx < 0 or qx >= width:
                continue
            label_q = labels[qy, qx]
            if label_q == UNRESOLVED:
                continue
            if label_q != IDENTITY and (s == 1 or s == 3):
                continue  # a hole-hole edge, counted from its other end
            total += pair_cost(values, known, offsets, label_p, label_q, y, x, qy, qx, penalty)
    return total


@jit
def expansion_terms(values, known, labels, free, offsets, alpha, penalty, hole_y, hole_x,
                    node_of, node_y, node_x, cost_keep, cost_switch, edge_i, edge_j,
                    edge_keep, edge_p_switch, edge_q_switch):
    """The binary problem of one alpha-expansion move (Boykov, Veksler, Zabih 2001).

    Nodes are the ``free`` hole pixels that may take ``alpha`` (valid there) and do
    not have it yet; every other pixel keeps its label. For node p,
    ``cost_keep[p]`` / ``cost_switch[p]`` sum its edges to fixed neighbours with p
    keeping its label or switching to alpha. For each edge between two nodes
    (listed once) ``edge_keep`` = V(a_p, a_q), ``edge_p_switch`` = V(alpha, a_q)
    and ``edge_q_switch`` = V(a_p, alpha); V(alpha, alpha) = 0. ``node_of`` (H, W)
    int32 must be -1 at every hole pixel on entry and is -1 again on return.
    Returns (number of nodes, number of edges).
    """
    height = labels.shape[0]
    width = labels.shape[1]
    n_nodes = 0
    for k in range(hole_y.shape[0]):
        y = hole_y[k]
        x = hole_x[k]
        label = labels[y, x]
        if (free[y, x] and label != UNRESOLVED and label != alpha
                and is_valid(known, offsets, alpha, y, x)):
            node_of[y, x] = n_nodes
            node_y[n_nodes] = y
            node_x[n_nodes] = x
            n_nodes += 1
    n_edges = 0
    for k in range(n_nodes):
        y = node_y[k]
        x = node_x[k]
        label_p = labels[y, x]
        keep = 0.0
        switch = 0.0
        for s in range(4):
            qy = y + _STEPS_Y[s]
            qx = x + _STEPS_X[s]
            if qy < 0 or qy >= height or qx < 0 or qx >= width:
                continue
            label_q = labels[qy, qx]
            if label_q == UNRESOLVED:
                continue
            j = node_of[qy, qx]
            if j >= 0:
                if j > k:
                    edge_i[n_edges] = k
                    edge_j[n_edges] = j
                    edge_keep[n_edges] = pair_cost(values, known, offsets, label_p, label_q,
                                                   y, x, qy, qx, penalty)
                    edge_p_switch[n_edges] = pair_cost(values, known, offsets, alpha, label_q,
                                                       y, x, qy, qx, penalty)
                    edge_q_switch[n_edges] = pair_cost(values, known, offsets, label_p, alpha,
                                                       y, x, qy, qx, penalty)
                    n_edges += 1
            else:
                keep += pair_cost(values, known, offsets, label_p, label_q, y, x, qy, qx, penalty)
                switch += pair_cost(values, known, offsets, alpha, label_q, y, x, qy, qx, penalty)
        cost_keep[k] = keep
        cost_switch[k] = switch
    for k in range(n_nodes):
        node_of[node_y[k], node_x[k]] = -1
    return n_nodes, n_edges


@jit
def offset_error(values, known, shift_y, shift_x, stride):
    """Mean over known pixels p (on a ``stride`` grid) with p + shift known of
    |I(p + shift) - I(p)|^2, and the number of such pixels (error +inf if none)."""
    height = known.shape[0]
    width = known.shape[1]
    total = 0.0
    count = 0
    for y in range(max(0, -shift_y), min(height, height - shift_y), stride):
        for x in range(max(0, -shift_x), min(width, width - shift_x), stride):
            if known[y, x] and known[y + shift_y, x + shift_x]:
                for c in range(values.shape[2]):
                    d = values[y + shift_y, x + shift_x, c] - values[y, x, c]
                    total += d * d
                count += 1
    if count == 0:
        return np.inf, 0
    return total / count, count
