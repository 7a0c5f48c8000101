"""The numba kernels of :class:`~recsys.knn.ItemKNN` (private).

Item-item shrunk Pearson similarities on baseline residuals (a parallel,
deterministic pass), and the neighbourhood term of a prediction, pair by pair or
for every movie of a user. Arrays are positional, in CSR layout.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

if TYPE_CHECKING:
    from numpy.typing import NDArray

__all__ = [
    "neighbour_estimate",
    "predict_pairs",
    "score_user_row",
    "score_users",
    "similarities",
    "similarity_row",
]


@numba.njit(cache=True, nogil=True)
def similarity_row(  # noqa: PLR0917 - numba kernels take positional arrays
    i: int,
    item_indptr: NDArray[np.int64],
    item_users: NDArray[np.int32],
    item_resid: NDArray[np.float64],
    user_indptr: NDArray[np.int64],
    user_items: NDArray[np.int32],
    user_resid: NDArray[np.float64],
    shrinkage: float,
    min_support: int,
    max_neighbors: int,
    prods: NDArray[np.float64],
    sq_i: NDArray[np.float64],
    sq_j: NDArray[np.float64],
    freq: NDArray[np.int32],
    touched: NDArray[np.int32],
    out_idx: NDArray[np.int32],
    out_sim: NDArray[np.float32],
) -> int:
    """Fill ``out_*`` with the positive neighbours of ``i``, best first; count them."""
    n_touched = 0
    for a in range(item_indptr[i], item_indptr[i + 1]):
        u = item_users[a]
        d_ui = item_resid[a]
        for b in range(user_indptr[u], user_indptr[u + 1]):
            j = user_items[b]
            if freq[j] == 0:
                touched[n_touched] = j
                n_touched += 1
            d_uj = user_resid[b]
            freq[j] += 1
            prods[j] += d_ui * d_uj
            sq_i[j] += d_ui * d_ui
            sq_j[j] += d_uj * d_uj
    cand_idx = np.empty(n_touched, dtype=np.int32)
    cand_sim = np.empty(n_touched, dtype=np.float64)
    n_cand = 0
    for t in range(n_touched):
        j = touched[t]
        n = freq[j]
        denom = sq_i[j] * sq_j[j]
        if j != i and n >= min_support and denom > 0.0:
            sim = prods[j] / np.sqrt(denom) * (n - 1) / (n - 1 + shrinkage)
            if sim > 0.0:
                cand_idx[n_cand] = j
                cand_sim[n_cand] = sim
                n_cand += 1
        freq[j] = 0
        prods[j] = 0.0
        sq_i[j] = 0.0
        sq_j[j] = 0.0
    cand_idx = cand_idx[:n_cand]
    cand_sim = cand_sim[:n_cand]
    # Best first; ties by movie position, for a deterministic order.
    order = np.argsort(-cand_sim, kind="mergesort")
    n_keep = min(n_cand, max_neighbors)
    for t in range(n_keep):
        out_idx[t] = cand_idx[order[t]]
        out_sim[t] = cand_sim[order[t]]
    return n_keep


@numba.njit(cache=True, nogil=True, parallel=True)
def similarities(  # noqa: PLR0917 - numba kernels take positional arrays
    item_indptr: NDArray[np.int64],
    item_users: NDArray[np.int32],
    item_resid: NDArray[np.float64],
    user_indptr: NDArray[np.int64],
    user_items: NDArray[np.int32],
    user_resid: NDArray[np.float64],
    shrinkage: float,
    min_support: int,
    max_neighbors: int,
    n_blocks: int,
) -> tuple[NDArray[np.int32], NDArray[np.float32], NDArray[np.int32]]:
    n_items = item_indptr.shape[0] - 1
    nbr_idx = np.empty((n_items, max_neighbors), dtype=np.int32)
    nbr_sim = np.empty((n_items, max_neighbors), dtype=np.float32)
    counts = np.zeros(n_items, dtype=np.int32)
    for block in numba.prange(n_blocks):
        prods = np.zeros(n_items)
        sq_i = np.zeros(n_items)
        sq_j = np.zeros(n_items)
        freq = np.zeros(n_items, dtype=np.int32)
        touched = np.empty(n_items, dtype=np.int32)
        for i in range(block, n_items, n_blocks):
            counts[i] = similarity_row(
                i,
                item_indptr,
                item_users,
                item_resid,
                user_indptr,
                user_items,
                user_resid,
                shrinkage,
                min_support,
                max_neighbors,
                prods,
                sq_i,
                sq_j,
                freq,
                touched,
                nbr_idx[i],
                nbr_sim[i],
            )
    return nbr_idx, nbr_sim, counts


@numba.njit(cache=True, nogil=True)
def neighbour_estimate(  # noqa: PLR0917 - numba kernels take positional arrays
    i: int,
    k: int,
    min_k: int,
    nbr_indptr: NDArray[np.int64],
    nbr_idx: NDArray[np.int32],
    nbr_sim: NDArray[np.float32],
    dev: NDArray[np.float64],
    rated: NDArray[np.bool_],
) -> float:
    """Weighted mean deviation of the ``k`` most similar movies the user rated."""
    num = 0.0
    den = 0.0
    hits = 0
    for a in range(nbr_indptr[i], nbr_indptr[i + 1]):
        j = nbr_idx[a]
        if rated[j]:
            s = nbr_sim[a]
            num += s * dev[j]
            den += s
            hits += 1
            if hits == k:
                break
    if hits < min_k or den <= 0.0:
        return 0.0
    return num / den


@numba.njit(cache=True, nogil=True)
def predict_pairs(  # noqa: PLR0917 - numba kernels take positional arrays
    users: NDArray[np.int64],
    items: NDArray[np.int64],
    user_indptr: NDArray[np.int64],
    user_items: NDArray[np.int32],
    user_resid: NDArray[np.float64],
    nbr_indptr: NDArray[np.int64],
    nbr_idx: NDArray[np.int32],
    nbr_sim: NDArray[np.float32],
    k: int,
    min_k: int,
    n_items: int,
) -> NDArray[np.float64]:
    """Neighbourhood term of each (user, item) pair; pairs are grouped by user."""
    out = np.zeros(users.shape[0])
    order = np.argsort(users, kind="mergesort")
    dev = np.zeros(n_items)
    rated = np.zeros(n_items, dtype=np.bool_)
    t = 0
    while t < order.shape[0]:
        u = users[order[t]]
        for b in range(user_indptr[u], user_indptr[u + 1]):
            dev[user_items[b]] = user_resid[b]
            rated[user_items[b]] = True
        while t < order.shape[0] and users[order[t]] == u:
            out[order[t]] = neighbour_estimate(
                items[order[t]], k, min_k, nbr_indptr, nbr_idx, nbr_sim, dev, rated
            )
            t += 1
        for b in range(user_indptr[u], user_indptr[u + 1]):
            rated[user_items[b]] = False
    return out


@numba.njit(cache=True, nogil=True)
def score_user_row(  # noqa: PLR0917 - numba kernels take positional arrays
    u: int,
    user_indptr: NDArray[np.int64],
    user_items: NDArray[np.int32],
    user_resid: NDArray[np.float64],
    nbr_indptr: NDArray[np.int64],
    nbr_idx: NDArray[np.int32],
    nbr_sim: NDArray[np.float32],
    rev_indptr: NDArray[np.int64],
    rev_items: NDArray[np.int32],
    rev_sim: NDArray[np.float32],
    k: int,
    min_k: int,
    out: NDArray[np.float64],
    dev: NDArray[np.float64],
    rated: NDArray[np.bool_],
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    hits: NDArray[np.int32],
) -> None:
    """Neighbourhood term of every movie for user ``u`` (scatter, then exact fix-up).

    Scattering each rated movie ``j`` to the movies ``i`` that list ``j`` as a
    neighbour gives the exact estimate wherever at most ``k`` neighbours are rated;
    the other movies are recomputed by scanning their neighbour list.
    """
    n_items = out.shape[0]
    for b in range(user_indptr[u], user_indptr[u + 1]):
        j = user_items[b]
        dev[j] = user_resid[b]
        rated[j] = True
        for a in range(rev_indptr[j], rev_indptr[j + 1]):
            i = rev_items[a]
            s = rev_sim[a]
            num[i] += s * user_resid[b]
            den[i] += s
            hits[i] += 1
    for i in range(n_items):
        if hits[i] > k:
            out[i] = neighbour_estimate(
                i, k, min_k, nbr_indptr, nbr_idx, nbr_sim, dev, rated
            )
        elif hits[i] >= min_k and den[i] > 0.0:
            out[i] = num[i] / den[i]
        else:
            out[i] = 0.0
        num[i] = 0.0
        den[i] = 0.0
        hits[i] = 0
    for b in range(user_indptr[u], user_indptr[u + 1]):
        rated[user_items[b]] = False


@numba.njit(cache=True, nogil=True)
def score_users(  # noqa: PLR0917 - numba kernels take positional arrays
    users: NDArray[np.int64],
    user_indptr: NDArray[np.int64],
    user_items: NDArray[np.int32],
    user_resid: NDArray[np.float64],
    nbr_indptr: NDArray[np.int64],
    nbr_idx: NDArray[np.int32],
    nbr_sim: NDArray[np.float32],
    rev_indptr: NDArray[np.int64],
    rev_items: NDArray[np.int32],
    rev_sim: NDArray[np.float32],
    k: int,
    min_k: int,
    n_items: int,
) -> NDArray[np.float64]:
    out = np.empty((users.shape[0], n_items))
    dev = np.zeros(n_items)
    rated = np.zeros(n_items, dtype=np.bool_)
    num = np.zeros(n_items)
    den = np.zeros(n_items)
    hits = np.zeros(n_items, dtype=np.int32)
    for r in range(users.shape[0]):
        score_user_row(
            users[r],
            user_indptr,
            user_items,
            user_resid,
            nbr_indptr,
            nbr_idx,
            nbr_sim,
            rev_indptr,
            rev_items,
            rev_sim,
            k,
            min_k,
            out[r],
            dev,
            rated,
            num,
            den,
            hits,
        )
    return out
