"""einsum: parse the subscripts (explicit or implicit output, ellipsis, repeated labels), then
reduce to diagonals, sums, and one dot_general per operand pair, folding left to right."""
from __future__ import annotations

import string

import numpy as np

from spmd.numpy._core import shape_of
from spmd.numpy._diagonals import diagonal
from spmd.numpy._linalg import promote_operands
from spmd.transforms import lax

_LETTERS = set(string.ascii_letters)


def _ellipsis_label(k):
    return ("...", k)  # the k-th broadcast (ellipsis) axis, counted in the broadcast shape


def _parse_term(term: str, rank: int, n_ellipsis: int, where: str):
    """Labels of one operand's axes; ellipsis axes are aligned to the right of n_ellipsis."""
    if term.count("...") > 1 or term.replace("...", "").count(".") > 0:
        raise ValueError(f"einsum: invalid subscript {term!r} ({where}): at most one '...' and "
                         "no other dots")
    head, _, tail = term.partition("...")
    for c in head + tail:
        if c not in _LETTERS:
            raise ValueError(f"einsum: invalid subscript character {c!r} in {term!r}; use "
                             "letters a-z, A-Z and '...'")
    if "..." not in term:
        if len(term) != rank:
            raise ValueError(f"einsum: subscript {term!r} names {len(term)} axes but {where} "
                             f"has rank {rank}")
        return list(term)
    extra = rank - len(head) - len(tail)
    if extra < 0:
        raise ValueError(f"einsum: subscript {term!r} names more axes than {where} has "
                         f"({rank})")
    return (list(head) + [_ellipsis_label(n_ellipsis - extra + j) for j in range(extra)]
            + list(tail))


def _from_sublists(args):
    """The interleaved form einsum(a, [0, 1], b, [1, 2], [0, 2]) as a subscripts string."""
    ops, terms = list(args[0::2]), [list(s) for s in args[1::2]]
    out = terms.pop() if len(terms) > len(ops) else None

    def letters(sub):
        return "".join("..." if s is Ellipsis else string.ascii_letters[int(s)] for s in sub)
    spec = ",".join(letters(t) for t in terms)
    return (spec + ("->" + letters(out) if out is not None else "")), ops


def einsum(subscripts, *operands, out=None, optimize=None, precision=None,
           preferred_element_type=None, _dot_general=None):
    if out is not None:
        raise NotImplementedError("the 'out' argument to spmd.numpy.einsum is not supported")
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts,) + operands)
    if not operands:
        raise ValueError("einsum needs at least one operand")
    operands = promote_operands("einsum", *operands)
    spec = subscripts.replace(" ", "")
    inputs, arrow, output = spec.partition("->")
    terms = inputs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum: {len(terms)} subscript terms in {subscripts!r} but "
                         f"{len(operands)} operands")
    ranks = [len(shape_of(x)) for x in operands]
    n_ell = max([r - len(t.replace("...", "")) for t, r in zip(terms, ranks) if "..." in t],
                default=0)
    labels = [_parse_term(t, r, n_ell, f"operand {i}")
              for i, (t, r) in enumerate(zip(terms, ranks))]
    ell = [_ellipsis_label(k) for k in range(n_ell)]
    counts = {}
    for ls in labels:
        for lab in ls:
            counts[lab] = counts.get(lab, 0) + 1
    if arrow:
        if output.count("...") > 1 or any(c not in _LETTERS for c in output.replace("...", "")):
            raise ValueError(f"einsum: invalid output subscript {output!r}")
        head, has_ell, tail = output.partition("...")
        # without '...' in the output, the broadcast axes are summed away
        out_labels = list(head) + (ell if has_ell else []) + list(tail)
        for c in out_labels:
            if not isinstance(c, tuple) and c not in counts:
                raise ValueError(f"einsum: output subscript {c!r} does not appear in the inputs")
        if len(set(out_labels)) != len(out_labels):
            raise ValueError(f"einsum: output subscript {output!r} repeats a label")
    else:  # implicit: broadcast axes, then the labels used once, alphabetically
        out_labels = ell + sorted(c for c, n in counts.items()
                                  if not isinstance(c, tuple) and n == 1)
    sizes = _label_sizes(operands, labels)
    operands = [_broadcast_labels(x, ls, sizes) for x, ls in zip(operands, labels)]
    return _contract(operands, labels, out_labels, precision, preferred_element_type)


def _label_sizes(operands, labels):
    sizes = {}
    for i, (x, ls) in enumerate(zip(operands, labels)):
        for lab, n in zip(ls, shape_of(x)):
            have = sizes.get(lab, 1)
            if n != 1 and have != 1 and n != have:
                shown = "..." if isinstance(lab, tuple) else repr(lab)
                raise ValueError(f"einsum: size of label {shown} for operand {i} ({n}) does not "
                                 f"match previous terms ({have})")
            sizes[lab] = max(have, n) if have != 1 or n != 1 else 1
    return sizes


def _broadcast_labels(x, ls, sizes):
    shape = shape_of(x)
    want = tuple(sizes[lab] if n == 1 else n for lab, n in zip(ls, shape))
    return lax.broadcast_in_dim(x, want, tuple(range(len(shape)))) if want != shape else x


def _take_diagonals(x, ls):
    """Repeated labels within one operand select a diagonal."""
    while len(set(ls)) != len(ls):
        lab = next(lab for lab in ls if ls.count(lab) > 1)
        i = ls.index(lab)
        j = ls.index(lab, i + 1)
        x = diagonal(x, 0, i, j)
        ls = [c for k, c in enumerate(ls) if k not in (i, j)] + [lab]
    return x, ls


def _sum_unneeded(x, ls, needed):
    axes = tuple(k for k, lab in enumerate(ls) if lab not in needed)
    if not axes:
        return x, ls
    return lax.reduce_sum(x, axes), [lab for lab in ls if lab in needed]


def _contract(operands, labels, out_labels, precision, preferred_element_type):
    pending = [_take_diagonals(x, list(ls)) for x, ls in zip(operands, labels)]

    def needed_after(i):
        later = set(out_labels)
        for _, ls in pending[i + 1:]:
            later.update(ls)
        return later

    acc, acc_ls = _sum_unneeded(*pending[0], needed_after(0))
    for i in range(1, len(pending)):
        x, ls = pending[i]
        later = needed_after(i)
        x, ls = _sum_unneeded(x, ls, later | set(acc_ls))
        acc, acc_ls = _sum_unneeded(acc, acc_ls, later | set(ls))
        shared = [lab for lab in acc_ls if lab in ls]
        batch = [lab for lab in shared if lab in later]
        contract = [lab for lab in shared if lab not in later]
        dn = ((tuple(acc_ls.index(c) for c in contract), tuple(ls.index(c) for c in contract)),
              (tuple(acc_ls.index(b) for b in batch), tuple(ls.index(b) for b in batch)))
        acc = lax.dot_general(acc, x, dn, precision, preferred_element_type)
        acc_ls = batch + [lab for lab in acc_ls if lab not in shared] + [
            lab for lab in ls if lab not in shared]
    acc, acc_ls = _sum_unneeded(acc, acc_ls, set(out_labels))
    perm = tuple(acc_ls.index(lab) for lab in out_labels)
    out = lax.transpose(acc, perm) if perm != tuple(range(len(perm))) else acc
    if preferred_element_type is not None:
        out = lax.convert_element_type(out, np.dtype(preferred_element_type))
    return out
