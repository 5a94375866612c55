"""Every primitive has every rule it needs: a lowering, a JVP, a batching rule, and a transpose if
its JVP applies it to tangents (transforms.jvp.linear_primitives). Missing rules are found here,
not by users; a primitive may go without one only from the exempt lists below, with the reason.

The walk imports every module of the packages that declare primitives, so a primitive declared
anywhere is checked, including ones added after this test was written."""
import importlib
import pkgutil

from spmd.transforms import core
from spmd.transforms.batching import batching_rules
from spmd.transforms.jvp import jvp_rules, linear_primitives
from spmd.transforms.lowering import lowering_rules
from spmd.transforms.transpose import transpose_rules

PACKAGES = ("spmd.transforms", "spmd.collectives", "spmd")

# primitive name -> why it needs no rule of that kind
_PMAP_OWN = ("pmap binds it in its own per-device program, around the user's function, on an "
             "int32 pair it makes itself: no transform of the user's ever sees it")
EXEMPT = {
    "lowering": {},
    "jvp": {"pmap_call_order_check": _PMAP_OWN},
    "batching": {
        "iota": "it takes no operands, so there is never a batched argument to push through it",
        "pmap_call_order_check": _PMAP_OWN,
    },
    "transpose": {},
}


def _import_all():
    """Import every module of PACKAGES. A module that needs a missing optional third-party
    package (mpi4py, ray, ...) is skipped; any other failure is a bug and fails the test."""
    skipped = []
    for name in PACKAGES:
        package = importlib.import_module(name)
        for info in pkgutil.walk_packages(package.__path__, name + "."):
            try:
                importlib.import_module(info.name)
            except ImportError as e:
                if e.name is None or e.name.split(".")[0] == "spmd":
                    raise
                skipped.append(f"{info.name} (needs {e.name})")
    return skipped


def _missing_rules():
    missing = {}
    for prim in list(core.abstract_eval_rules):
        needed = {"lowering": lowering_rules, "jvp": jvp_rules, "batching": batching_rules}
        if prim in linear_primitives:
            needed["transpose"] = transpose_rules
        lacks = [kind for kind, rules in needed.items()
                 if prim not in rules and prim.name not in EXEMPT[kind]]
        if lacks:
            missing[prim.name] = lacks
    return missing


def test_every_primitive_has_its_rules():
    _import_all()
    assert len(core.abstract_eval_rules) > 50, "the walk found too few primitives"
    missing = _missing_rules()
    report = "; ".join(f"{name}: {', '.join(kinds)}" for name, kinds in sorted(missing.items()))
    assert not missing, ("primitives lacking rules (add the rule, or an EXEMPT entry with the "
                         "reason): " + report)


def test_exemptions_are_current_and_give_reasons():
    """An exemption for a primitive that now has the rule, or no longer exists, is stale."""
    _import_all()
    by_name = {p.name: p for p in core.abstract_eval_rules}
    registries = {"lowering": lowering_rules, "jvp": jvp_rules, "batching": batching_rules,
                  "transpose": transpose_rules}
    for kind, reasons in EXEMPT.items():
        for name, reason in reasons.items():
            assert name in by_name, f"EXEMPT[{kind!r}] names {name!r}, which is not a primitive"
            assert by_name[name] not in registries[kind], \
                f"{name!r} now has a {kind} rule: remove it from EXEMPT[{kind!r}]"
            assert len(reason) > 10, f"EXEMPT[{kind!r}][{name!r}]: say why it is exempt"
