"""The AttributeError a ported JAX program meets at a name spmd lacks: it names the JAX name the
program asked for, says spmd does not implement it yet, and points to an alternative where spmd
has one. Each public module installs it as its module `__getattr__` (PEP 562), which Python calls
only for names the module does not define."""

# JAX names spmd lacks but can stand in for, per JAX module: the alternative to suggest
ALTERNATIVES = {
    "jax": {
        "device_put": "spmd.device_put_replicated or spmd.device_put_sharded for pmap's layout",
    },
    "jax.numpy": {
        "fabs": "spmd.numpy.abs (on real inputs)",
    },
    "jax.lax": {
        "dot_general_p": "spmd.lax.dot_general",
    },
}


def missing_name_error(module: str, jax_module: str, name: str) -> AttributeError:
    """The error for `module.name`, where `module` stands for `jax_module`."""
    message = f"module '{module}' has no attribute '{name}'"
    if not name.startswith("__"):  # dunder probes (copy, pickle, doctest) are not JAX names
        message += f": spmd does not implement `{jax_module}.{name}` yet"
        alternative = ALTERNATIVES.get(jax_module, {}).get(name)
        if alternative:
            message += f"; use {alternative} instead"
    return AttributeError(message)


def module_getattr(module: str, jax_module: str):
    """A module `__getattr__` for `module` (spmd's stand-in for `jax_module`)."""
    def __getattr__(name):
        raise missing_name_error(module, jax_module, name)
    return __getattr__
