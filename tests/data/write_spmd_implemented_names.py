"""Writes spmd_implemented_names.json: per JAX module, the JAX names spmd implements today (what
the README's porting section reports; tests/spmd/test_jax_names.py checks each still exists).

    python tests/data/write_spmd_implemented_names.py
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
sys.path.insert(0, str(HERE.parent / "spmd"))
from test_jax_names import JAX, exported, jax_names, spmd_module  # noqa: E402


def main():
    implemented = {}
    for jax_module in sorted(JAX["modules"]):
        module = spmd_module(jax_module)
        if module is not None:
            implemented[jax_module] = sorted(
                exported(module) & (jax_names(jax_module)
                                    | set(JAX["modules"][jax_module]["removed"])))
    (HERE / "spmd_implemented_names.json").write_text(json.dumps(implemented, indent=1) + "\n")
    for jax_module, names in implemented.items():
        print(f"{jax_module}: {len(names)}")


if __name__ == "__main__":
    main()
