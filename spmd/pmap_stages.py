"""pmap's part of the ahead-of-time stages (spmd.transforms.stages): `pmap(f).lower(*args)`
gives the same Lowered and Compiled as jit. The compiled pmap takes the arguments of `f`
(pytrees, several arguments, in_axes as the pmap has them) and runs the N-replica program, with
the same layouts, caches and bounds on executions in flight as a call of the pmap itself.
"""
from __future__ import annotations

from spmd.pmap_program import BroadcastInput, PmapProgram
from spmd.transforms import stages


def lower(signature) -> stages.Lowered:
    """The Lowered of one traced pmap signature (spmd/pmap.py's _Signature)."""
    return stages.Lowered(_StagedPmap(signature), signature.in_tree, signature.out_tree,
                          signature.labels)


class _StagedPmap:
    """One pmap signature as the stages see it: types in the user's layout (the mapped axis
    where in_axes/out_axes put it; across processes, this process's rows)."""

    def __init__(self, signature):
        self._signature = signature
        self.name = signature.pmapped.name
        # The N-replica program is traced around the per-device one when it is built; building
        # it compiles it too (once per signature, and cached like a call's).
        program = signature.program()
        self.text = program.text
        self.in_avals, self.donated = list(signature.avals), list(signature.donated)
        self.out_avals = [_move_front_axis(a, d) for a, d in zip(program.out_avals,
                                                                   program.out_dims)]

    def compile(self, compiler_options: tuple) -> "_CompiledPmap":
        return _CompiledPmap(self._signature.program(compiler_options))


class _CompiledPmap:
    def __init__(self, program: PmapProgram):
        self._program, self.executable = program, program.exe
        self.input_placements = [
            stages.Placement("replicated" if isinstance(put, BroadcastInput) else "stacked",
                             put.devices) for put in program.inputs]
        self.output_placements = [
            stages.Placement("replicated" if d is None else "stacked", program.local_devices)
            for d in program.out_dims]

    def __call__(self, leaves) -> list:
        return self._program(leaves)


def _move_front_axis(aval, dim):
    """The aval of a result stacked along axis 0 once its mapped axis is moved to `dim`."""
    if dim in (None, 0):
        return aval
    shape = list(aval.shape[1:])
    shape.insert(dim, aval.shape[0])
    return aval.update(shape=tuple(shape))
