"""Before a pmap program spanning several processes first runs: the same program everywhere.

Processes that reach a cross-process pmap with different argument shapes (or a different
program) would meet at mismatched collectives and hang or exchange garbage. So the first time
each process builds such a program it posts a short description of it (the function's name, its
argument and result types on this process, a digest of the program text) through the
coordinator's key-value store (cluster.host_collectives.check_agreement); any difference raises
on every process with both sides named, before anything runs.

Constants folded into the program (`x * process_index()`) may differ between processes, as
in JAX: their values are left out of the digest; the program's structure and types are not.
"""
from __future__ import annotations

import hashlib
import re

from spmd.cluster import host_collectives

# `"stablehlo.constant"() {value = dense<...> : tensor<..>}`: the value is left out
_CONSTANT_VALUE = re.compile(r'("stablehlo\.constant"\(\) \{value = )dense<[^>]*>')


def program_digest(text: str) -> str:
    """A short digest of a program's text, blind to the values of its constants."""
    return hashlib.sha256(_CONSTANT_VALUE.sub(r"\1dense<?>", text).encode()).hexdigest()[:12]


def describe(name: str, in_avals, out_avals, text: str) -> str:
    """`step(f32[2,3], i32[2]) -> (f32[2,3]) program 3fa2...`: what the processes compare."""
    ins = ", ".join(a.str_short() for a in in_avals)
    outs = ", ".join(a.str_short() for a in out_avals)
    return f"{name}({ins}) -> ({outs}) program {program_digest(text)}"


def check_same_program(name: str, in_avals, out_avals, text: str) -> None:
    """Raise on every process unless all of them build this pmap program with these types."""
    host_collectives.check_agreement("the pmap program",
                                     describe(name, in_avals, out_avals, text))
