"""Writes jax_public_names.json: the public names of JAX's modules at one release tag, read from
the sources in a git mirror of jax (`git show TAG:jax/...`), never by importing jax.

    python tests/data/generate_jax_public_names.py [--mirror PATH] [--tag jax-v0.10.2]

A module's public names are the names its file binds at top level (imports, assignments,
definitions, both branches of `if TYPE_CHECKING`) that do not start with `_` and are not deleted
again, or its `__all__` where it has one; names JAX has already removed (a `_deprecations` entry
with no replacement) are listed apart, as they raise AttributeError in JAX.
"""
import argparse
import ast
import json
import pathlib
import subprocess

MIRROR = "/work/.mirror/jax-ml+jax/repo"
TAG = "jax-v0.10.2"
OUT = pathlib.Path(__file__).with_name("jax_public_names.json")

# the modules a ported program imports; source files relative to the repository root
MODULES = {
    "jax": "jax/__init__.py",
    "jax.numpy": "jax/numpy/__init__.py",
    "jax.numpy.linalg": "jax/numpy/linalg.py",
    "jax.numpy.fft": "jax/numpy/fft.py",
    "jax.lax": "jax/lax/__init__.py",
    "jax.nn": "jax/nn/__init__.py",
    "jax.nn.initializers": "jax/nn/initializers.py",
    "jax.random": "jax/random.py",
    "jax.tree_util": "jax/tree_util.py",
    "jax.tree": "jax/tree.py",
    "jax.dtypes": "jax/dtypes.py",
    "jax.debug": "jax/debug.py",
    "jax.test_util": "jax/test_util.py",
    "jax.scipy": "jax/scipy/__init__.py",
    "jax.scipy.special": "jax/scipy/special.py",
    "jax.scipy.linalg": "jax/scipy/linalg.py",
    "jax.scipy.stats": "jax/scipy/stats/__init__.py",
    "jax.image": "jax/image/__init__.py",
    "jax.custom_batching": "jax/custom_batching.py",
}


def _bound_names(statements, bound, deleted):
    for node in statements:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.asname or "." not in alias.name:  # `import a.b` binds only `a`
                    bound.add(alias.asname or alias.name)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        bound.add(leaf.id)
        elif isinstance(node, ast.Delete):
            for target in node.targets:
                for leaf in ast.walk(target):
                    if isinstance(leaf, ast.Name):
                        deleted.add(leaf.id)
        elif isinstance(node, ast.If):
            _bound_names(node.body + node.orelse, bound, deleted)
        elif isinstance(node, ast.Try):
            _bound_names(node.body + node.orelse + node.finalbody, bound, deleted)


def _assigned_value(tree, name):
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == name for t in node.targets):
            return node.value
    return None


def _removed_names(tree):
    """Entries of `_deprecations` whose replacement is None: JAX raises AttributeError."""
    table = _assigned_value(tree, "_deprecations")
    if not isinstance(table, ast.Dict):
        return set()
    return {ast.literal_eval(key) for key, entry in zip(table.keys, table.values)
            if isinstance(entry, ast.Tuple) and isinstance(entry.elts[1], ast.Constant)
            and entry.elts[1].value is None}


def public_names(source: str):
    """(public names, names JAX removed) of one module's source."""
    tree = ast.parse(source)
    removed = _removed_names(tree)
    explicit = _assigned_value(tree, "__all__")
    if isinstance(explicit, (ast.List, ast.Tuple)):
        names = set(ast.literal_eval(explicit))
    else:
        bound, deleted = set(), set()
        _bound_names(tree.body, bound, deleted)
        names = {n for n in bound - deleted if not n.startswith("_")}
    return sorted(names - removed), sorted(removed)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", default=MIRROR)
    parser.add_argument("--tag", default=TAG)
    args = parser.parse_args()
    modules = {}
    for module, path in MODULES.items():
        source = subprocess.run(["git", "-C", args.mirror, "show", f"{args.tag}:{path}"],
                                check=True, capture_output=True, text=True).stdout
        names, removed = public_names(source)
        modules[module] = {"names": names, "removed": removed}
    OUT.write_text(json.dumps({"tag": args.tag, "modules": modules}, indent=1) + "\n")
    for module, entry in modules.items():
        print(f"{module}: {len(entry['names'])} names, {len(entry['removed'])} removed")


if __name__ == "__main__":
    main()
