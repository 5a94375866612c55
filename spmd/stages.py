"""`spmd.stages`, as `jax.stages`: the types of jit's and pmap's ahead-of-time stages
(`f.lower(*args)` gives a Lowered, its `.compile()` a Compiled)."""
from spmd.missing_names import module_getattr as _module_getattr
from spmd.transforms.stages import ArgInfo, Compiled, Lowered  # noqa: F401

__getattr__ = _module_getattr("spmd.stages", "jax.stages")
