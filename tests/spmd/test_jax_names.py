"""spmd's public modules against JAX 0.10.2's public names (tests/data/jax_public_names.json,
read from JAX's sources by tests/data/generate_jax_public_names.py; jax is never imported):
every name spmd exports under a JAX module's name is a JAX name, the names recorded as
implemented (tests/data/spmd_implemented_names.json) exist, and the coverage is printed."""
import __future__
import importlib
import json
import pathlib
import types

import pytest

DATA = pathlib.Path(__file__).parents[1] / "data"
JAX = json.loads((DATA / "jax_public_names.json").read_text())
IMPLEMENTED = json.loads((DATA / "spmd_implemented_names.json").read_text())

# Names spmd exports that JAX 0.10.2 does not, each with why it stays
SPMD_ONLY = {
    "jax.numpy": {"fix": "NumPy's name (JAX 0.10.2 dropped it)",
                  "row_stack": "NumPy's name (JAX 0.10.2 dropped it)"},
    "jax.random": {"PRNGKeyArray": "JAX's type of keys before 0.4.24",
                   "KEY_DTYPE": "the dtype of spmd's typed keys",
                   "PRNGImpl": "JAX has it as jax.extend.random.PRNGImpl",
                   "default_prng_impl": "JAX has it as jax.default_prng_impl"},
    "jax.tree_util": {"LEAF": "spmd's leaf marker", "flatten_up_to": "spmd's helper",
                      "treedef_is_strict_leaf": "JAX's name before 0.4.30"},
    "jax.dtypes": {"canonicalize": "spmd's short name of canonicalize_dtype",
                   "is_weakly_typed": "JAX's name before 0.4.14"},
    "jax.scipy.special": {"promote_to_inexact": "an import the module should rename private",
                          "stop_gradient": "an import the module should rename private",
                          "custom_jvp": "an import the module should rename private"},
}


def spmd_module(jax_module):
    """spmd's module for a JAX module (jax.numpy -> spmd.numpy), or None where it has none."""
    try:
        return importlib.import_module("spmd" + jax_module[len("jax"):])
    except ImportError:
        return None


def exported(module) -> set:
    """The public names of a module: its `__all__` where it declares one, else its attributes
    less the submodules Python sets on their package (implementation files) unless JAX has a
    module of that name too."""
    if hasattr(module, "__all__"):
        return set(module.__all__)
    names = set()
    for name, value in vars(module).items():
        if name.startswith("_") or isinstance(value, __future__._Feature):
            continue
        if isinstance(value, types.ModuleType) and value.__name__ != f"{module.__name__}.{name}":
            continue  # an imported module (np, lax...) used by the implementation
        names.add(name)
    return names


def jax_names(jax_module) -> set:
    return set(JAX["modules"][jax_module]["names"])


@pytest.mark.parametrize("jax_module", sorted(JAX["modules"]))
def test_spmd_exports_only_jax_names_under_jax_module_names(jax_module):
    module = spmd_module(jax_module)
    if module is None:
        pytest.skip(f"spmd has no module for {jax_module} yet")
    implementation_files = {n for n in exported(module)
                            if isinstance(getattr(module, n), types.ModuleType)}
    invented = (exported(module) - implementation_files - jax_names(jax_module)
                - set(JAX["modules"][jax_module]["removed"]) - set(SPMD_ONLY.get(jax_module, {})))
    assert not invented, (f"{module.__name__} exports names {jax_module} does not have: "
                          f"{sorted(invented)}; make them private or list them in SPMD_ONLY")


@pytest.mark.parametrize("jax_module", sorted(IMPLEMENTED))
def test_names_recorded_as_implemented_exist_and_are_jax_names(jax_module):
    recorded = set(IMPLEMENTED[jax_module])
    assert recorded <= jax_names(jax_module) | set(JAX["modules"][jax_module]["removed"])
    module = spmd_module(jax_module)
    missing = {n for n in recorded if module is None or not hasattr(module, n)}
    assert not missing, f"recorded as implemented but absent from spmd: {sorted(missing)}"


def test_every_spmd_only_name_exists_so_the_list_stays_true():
    for jax_module, names in SPMD_ONLY.items():
        module = spmd_module(jax_module)
        assert module is not None and all(hasattr(module, n) for n in names), jax_module


def coverage() -> list[tuple[str, int, int]]:
    rows = []
    for jax_module in sorted(JAX["modules"]):
        module = spmd_module(jax_module)
        have = exported(module) if module is not None else set()
        rows.append((jax_module, len(have & jax_names(jax_module)), len(jax_names(jax_module))))
    return rows


def test_print_coverage_per_module(capsys):
    rows = coverage()
    assert all(0 <= have <= total for _, have, total in rows)
    with capsys.disabled():
        print(f"\nspmd's coverage of JAX {JAX['tag']}'s public names:")
        for jax_module, have, total in rows:
            print(f"  {jax_module:22} {have:4} of {total:4} ({100 * have / total:3.0f}%)")


@pytest.mark.parametrize("jax_module", ["jax", "jax.numpy", "jax.lax", "jax.nn", "jax.random",
                                        "jax.scipy", "jax.scipy.special", "jax.tree_util",
                                        "jax.dtypes"])
def test_a_jax_name_spmd_lacks_raises_an_error_naming_it(jax_module):
    module = spmd_module(jax_module)
    # not in vars: a module bound to a JAX name (spmd.lax.linalg) is there but not "exported"
    lacking = sorted(n for n in jax_names(jax_module) - exported(module) if n not in vars(module))
    if not lacking:
        pytest.skip(f"spmd has every name of {jax_module}")
    with pytest.raises(AttributeError, match=(
            rf"^module '{module.__name__}' has no attribute '{lacking[0]}': spmd does not "
            rf"implement `{jax_module}.{lacking[0]}` yet(; use .+ instead)?$")):
        getattr(module, lacking[0])
    with pytest.raises(AttributeError, match=r"has no attribute '__wrapped__'$"):
        module.__wrapped__  # noqa: B018  (a probe of tools, not a JAX name)


def test_the_error_names_an_alternative_where_spmd_has_one():
    from spmd.missing_names import ALTERNATIVES, missing_name_error
    for jax_module, alternatives in ALTERNATIVES.items():
        for name, alternative in alternatives.items():
            assert name in jax_names(jax_module), (jax_module, name)  # a JAX name, truly
            error = missing_name_error("spmd.x", jax_module, name)
            assert str(error).endswith(f"yet; use {alternative} instead")
