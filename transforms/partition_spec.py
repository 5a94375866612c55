"""`PartitionSpec` (JAX's `P`): how each dimension of an array is split over the axes of a
mesh. Entry i is None (dimension i is not split), a mesh axis name, or a tuple of names (split
over their product, the first name major). It is a pytree leaf, not a tuple, so that a spec can
stand in a pytree of shardings."""
from __future__ import annotations


class _Unconstrained:
    """A dimension left for XLA's propagation to decide (`P.UNCONSTRAINED`)."""
    __slots__ = ()

    def __repr__(self):
        return "UNCONSTRAINED"

    def __reduce__(self):
        return (_unconstrained, ())


UNCONSTRAINED = _Unconstrained()


def _unconstrained():
    return UNCONSTRAINED


def _canonical_entry(entry):
    if entry is None or entry is UNCONSTRAINED or isinstance(entry, str):
        return entry
    if isinstance(entry, (tuple, list)):
        names = tuple(entry)
        if not all(isinstance(n, str) for n in names):
            raise TypeError(f"a PartitionSpec entry that is a tuple holds mesh axis names "
                            f"(str), got {entry!r}")
        # JAX's canonical forms: () is None, a 1-tuple is the name itself
        return None if not names else names[0] if len(names) == 1 else names
    raise TypeError(f"a PartitionSpec entry is None, a mesh axis name or a tuple of names, "
                    f"got {entry!r} of type {type(entry).__name__}")


class PartitionSpec:
    __slots__ = ("_partitions",)
    UNCONSTRAINED = UNCONSTRAINED

    def __init__(self, *partitions):
        object.__setattr__(self, "_partitions", tuple(_canonical_entry(p) for p in partitions))

    def __setattr__(self, name, value):
        raise AttributeError("PartitionSpec is immutable")

    @property
    def partitions(self) -> tuple:
        return self._partitions

    def __getitem__(self, i):
        return self._partitions[i]

    def __iter__(self):
        return iter(self._partitions)

    def __len__(self):
        return len(self._partitions)

    def __eq__(self, other):
        if isinstance(other, PartitionSpec):
            return self._partitions == other._partitions
        if isinstance(other, tuple):  # as JAX: P('x', None) == ('x', None)
            return self._partitions == PartitionSpec(*other)._partitions
        return NotImplemented

    def __hash__(self):
        return hash(self._partitions)

    def __add__(self, other):
        if isinstance(other, (PartitionSpec, tuple)):
            return PartitionSpec(*self._partitions, *other)
        return NotImplemented

    def __radd__(self, other):
        if isinstance(other, tuple):
            return PartitionSpec(*other, *self._partitions)
        return NotImplemented

    def __repr__(self):
        return f"PartitionSpec({repr(self._partitions)[1:-1].rstrip(',')})"

    def __reduce__(self):
        return (PartitionSpec, self._partitions)

    def axis_names_of(self, dim: int) -> tuple:
        """The mesh axes dimension `dim` is split over (none past the spec's end)."""
        entry = self._partitions[dim] if dim < len(self._partitions) else None
        if entry is None or entry is UNCONSTRAINED:
            return ()
        return (entry,) if isinstance(entry, str) else entry

    def used_axis_names(self) -> tuple:
        return tuple(n for i in range(len(self._partitions)) for n in self.axis_names_of(i))


P = PartitionSpec
