"""lax.platform_dependent: the branch written for the platform the program runs on.

JAX stages every branch and picks one when it lowers; spmd lowers for the platform of its
backend (programs are compiled where they are traced), so it picks the branch when the call is
traced: the same result, and the other branches are never traced."""
from __future__ import annotations

from spmd.transforms import backend

# JAX's branch names for each platform of an XLA client ('gpu' branches are refused in JAX)
_BRANCH_NAMES = {"cpu": ("cpu",), "cuda": ("cuda",), "rocm": ("rocm",), "tpu": ("tpu",),
                 "gpu": ("cuda", "rocm")}


def platform_dependent(*args, default=None, **per_platform):
    """`per_platform[platform](*args)` for the platform the program runs on ('cpu', 'cuda',
    'rocm', 'tpu'), or `default(*args)` for a platform without its own branch."""
    for name, branch in per_platform.items():
        if not callable(branch):
            raise TypeError(f"lax.platform_dependent: the '{name}' branch must be a callable.")
        if name == "gpu":
            raise ValueError("Use 'cuda' or 'rocm' for lax.platform_dependent.")
    if default is not None and not callable(default):
        raise TypeError("lax.platform_dependent: the 'default' branch must be a callable.")
    platform = backend.default_device().platform
    for name in _BRANCH_NAMES.get(platform, (platform,)):
        if name in per_platform:
            return per_platform[name](*args)
    if default is None:
        raise NotImplementedError(f"lax.platform_dependent has no branch for the platform "
                                  f"'{platform}' (branches: {sorted(per_platform)}) and no "
                                  f"default: add a '{platform}' branch or a default")
    return default(*args)
