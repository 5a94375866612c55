"""spmd.image: image resampling, as jax.image (resize, scale_and_translate, ResizeMethod)."""
from spmd.image._resize import ResizeMethod, resize, scale_and_translate
from spmd.missing_names import module_getattr as _module_getattr

__all__ = ["ResizeMethod", "resize", "scale_and_translate"]

__getattr__ = _module_getattr("spmd.image", "jax.image")
