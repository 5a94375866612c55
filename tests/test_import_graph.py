"""The project's imports form a layered graph without cycles.

Every .py file of the installed packages is parsed with `ast` (nothing is imported, so a cycle
cannot hide behind the order in which modules happen to load). An import names the module whose
code it needs: `import spmd.a.b` and `from spmd.a import b` (b a submodule) need spmd.a.b, while
`from spmd.a import f` (f defined in spmd/a/__init__.py) needs the package spmd.a itself.

Importing spmd.a.b first runs spmd/a/__init__.py, unless that has already started. It has when
spmd.a contains the importing module (Python imports a module's packages before the module), so
`from spmd.numpy import _ufuncs` inside spmd/numpy/_shape.py needs spmd.numpy._ufuncs alone: it
gets the half-initialised package and takes nothing from it. From outside spmd.a, the import also
needs spmd.a's __init__ (and, if that imports the importer back, the result depends on which
module happened to load first, which is a cycle too). `spmd` itself contains every module here.
"""
import ast
import io
import pathlib
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
# setuptools package-dir (pyproject.toml): folder -> import name
PACKAGE_DIRS = {
    "spmd": "spmd",
    "transforms": "spmd.transforms",
    "collectives": "spmd.collectives",
    "cluster": "spmd.cluster",
    "launch": "spmd.launch",
}
PROJECT = "spmd"

# Which layers each layer may import (DEVELOPING.md, "Layers"). The surface is every spmd.*
# module outside the four installed folders.
LAYERS = ("transforms", "collectives", "cluster", "launch")
ALLOWED = {
    "transforms": {"transforms"},
    "collectives": {"collectives", "transforms"},
    "cluster": {"cluster", "transforms"},
    "surface": {"surface", "transforms", "collectives", "cluster"},
    "launch": {"launch", "cluster"},
}


def layer_of(module):
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS:
        return parts[1]
    return "surface"


class Import:
    """One import statement's dependency on one project module."""

    def __init__(self, source, target, path, line, in_function, commented, after_code):
        self.source, self.target = source, target
        self.path, self.line = path, line
        self.in_function, self.commented, self.after_code = in_function, commented, after_code

    def where(self):
        return f"{self.path}:{self.line} ({self.source} -> {self.target})"


def project_files(root=ROOT):
    """Map each module name of the project to its file."""
    files = {}
    for folder, package in PACKAGE_DIRS.items():
        for path in sorted((root / folder).rglob("*.py")):
            rel = path.relative_to(root / folder).with_suffix("").parts
            if rel[-1] == "__init__":
                rel = rel[:-1]
            files[".".join((package, *rel))] = path
    return files


def comment_lines(text):
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(text).readline):
        if tok.type == tokenize.COMMENT:
            lines.add(tok.start[0])
    return lines


def _resolve_relative(module, is_package, level, name):
    base = module.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(module, path, text, modules):
    """The project imports of one file: Import records, with their targets resolved."""
    tree = ast.parse(text, filename=str(path))
    comments = comment_lines(text)
    is_package = path.name == "__init__.py"
    found = []

    # the packages whose __init__ has started before this module's code runs
    started = {".".join(module.split(".")[:i]) for i in range(1, module.count(".") + 1)}
    if is_package:
        started.add(module)

    def add(target, node, in_function, after_code):
        commented = any(ln in comments for ln in range(node.lineno, node.end_lineno + 1))
        parts = target.split(".")
        packages = [".".join(parts[:i]) for i in range(1, len(parts))]
        for needed in [p for p in packages if p not in started] + [target]:
            found.append(Import(module, needed, path, node.lineno, in_function, commented,
                                after_code))

    def visit(node, in_function, after_code):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == PROJECT or alias.name.startswith(PROJECT + "."):
                    add(alias.name, node, in_function, after_code)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = _resolve_relative(module, is_package, node.level, node.module)
            else:
                base = node.module
            if base != PROJECT and not base.startswith(PROJECT + "."):
                return
            for alias in node.names:
                sub = f"{base}.{alias.name}"
                # a submodule named in the from-list is what the import needs, not the package
                add(sub if sub in modules else base, node, in_function, after_code)
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)),
                  after_code)

    seen_code = False
    for stmt in tree.body:
        visit(stmt, False, seen_code)
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            seen_code = True
    return found


def project_imports(root=ROOT):
    files = project_files(root)
    result = []
    for module, path in files.items():
        result += imports_of(module, path.relative_to(root), path.read_text(), files)
    return result


def find_cycles(edges):
    """The cycles of a graph {node: {successor, ...}}: one shortest cycle per strongly connected
    component of more than one node (or a node that imports itself), as a list of nodes."""
    index, low, on_stack, stack, components = {}, {}, set(), [], []
    counter = [0]

    def strongconnect(v):  # Tarjan, iterative so that deep graphs do not hit the recursion limit
        work = [(v, iter(sorted(edges.get(v, ()))))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        while work:
            node, successors = work[-1]
            advanced = False
            for w in successors:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    advanced = True
                    break
                if w in on_stack:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == node:
                        break
                components.append(component)

    for v in sorted(edges):
        if v not in index:
            strongconnect(v)

    cycles = []
    for component in components:
        members = set(component)
        if len(component) == 1 and component[0] not in edges.get(component[0], ()):
            continue
        start = min(component)
        # breadth-first search back to start inside the component: the shortest cycle through it
        parents, frontier = {start: None}, [start]
        while frontier:
            nxt = []
            for node in frontier:
                for w in sorted(edges.get(node, ())):
                    if w == start:
                        path = [node]
                        while parents[path[-1]] is not None:
                            path.append(parents[path[-1]])
                        cycles.append(list(reversed(path)) + [start])
                        nxt = None
                        break
                    if w in members and w not in parents:
                        parents[w] = node
                        nxt.append(w)
                if nxt is None:
                    break
            frontier = nxt or []
    return sorted(cycles)


def graph_of(imports):
    edges = {}
    for imp in imports:
        edges.setdefault(imp.source, set()).add(imp.target)
    return edges


def upward_imports(imports):
    return [imp for imp in imports
            if layer_of(imp.target) not in ALLOWED[layer_of(imp.source)]]


@pytest.fixture(scope="module")
def imports():
    return project_imports()


def test_the_graph_covers_the_project(imports):
    sources = {imp.source for imp in imports}
    # a checker that parsed nothing would pass everything
    for module in ("spmd", "spmd.numpy._ufuncs", "spmd.transforms.api", "spmd.transforms.lax",
                   "spmd.collectives.psum", "spmd.cluster.distributed", "spmd.launch.main"):
        assert module in sources, module


def test_no_import_cycles(imports):
    cycles = find_cycles(graph_of(imports))
    assert not cycles, "import cycles (break each by moving the shared code down a layer):\n" + \
        "\n".join(" -> ".join(c) for c in cycles)


def test_function_level_imports_say_why_they_are_lazy(imports):
    bare = sorted({imp.where() for imp in imports if imp.in_function and not imp.commented})
    assert not bare, ("imports of project modules inside functions, with no comment on the line "
                      "saying why they cannot be at the top of the file:\n" + "\n".join(bare))


def test_module_imports_are_at_the_top(imports):
    late = sorted({imp.where() for imp in imports if imp.after_code and not imp.in_function})
    assert not late, "project imports below a def or class (move them to the top):\n" + \
        "\n".join(late)


def test_imports_point_down(imports):
    up = sorted({f"{imp.where()}: {layer_of(imp.source)} may not import {layer_of(imp.target)}"
                 for imp in upward_imports(imports)})
    assert not up, "imports that point up the layers:\n" + "\n".join(up)


# --- the checker itself, on synthetic input -------------------------------------------------

def test_checker_reports_a_cycle():
    edges = {"spmd.a": {"spmd.b"}, "spmd.b": {"spmd.c"}, "spmd.c": {"spmd.a"},
             "spmd.d": {"spmd.a"}, "spmd.e": {"spmd.e"}}
    assert find_cycles(edges) == [["spmd.a", "spmd.b", "spmd.c", "spmd.a"], ["spmd.e", "spmd.e"]]
    assert find_cycles({"spmd.a": {"spmd.b"}, "spmd.b": set()}) == []


def _imports_of_text(module, filename, text, modules):
    return imports_of(module, pathlib.Path(filename), text, modules)


def test_checker_resolves_submodules_packages_and_comments():
    modules = {"spmd.pkg", "spmd.pkg.sub", "spmd.pkg.other", "spmd.transforms.core"}
    text = (
        "from spmd.pkg import sub\n"            # a submodule: needs spmd.pkg.sub only
        "from . import other\n"                 # relative, same
        "from spmd.pkg import helper\n"         # a name of the package: needs its __init__
        "def f():\n"
        "    import spmd.transforms.core\n"
        "    from spmd.pkg import sub  # lazy: the reason\n"
        "from spmd.pkg import other\n"
    )
    found = _imports_of_text("spmd.pkg.mod", "pkg/mod.py", text, modules)
    assert [(i.target, i.in_function, i.commented, i.after_code) for i in found] == [
        ("spmd.pkg.sub", False, False, False),
        ("spmd.pkg.other", False, False, False),
        ("spmd.pkg", False, False, False),
        ("spmd.transforms", True, False, False),  # entered from outside: its __init__ runs
        ("spmd.transforms.core", True, False, False),
        ("spmd.pkg.sub", True, True, False),
        ("spmd.pkg.other", False, False, True),
    ]
    # a package __init__ importing its submodules is no cycle; a submodule taking a name of
    # the package back is one
    init = _imports_of_text("spmd.pkg", "pkg/__init__.py", "from spmd.pkg import mod\n",
                            modules | {"spmd.pkg.mod"})
    assert find_cycles(graph_of(init)) == []
    assert find_cycles(graph_of(init + found)) == [["spmd.pkg", "spmd.pkg.mod", "spmd.pkg"]]


def test_checker_counts_the_init_of_a_package_it_enters_from_outside():
    modules = {"spmd.pkg", "spmd.pkg.sub", "spmd.pkg.inner", "spmd.other"}
    inside = _imports_of_text("spmd.pkg.inner", "pkg/inner.py", "from spmd.pkg import sub\n",
                              modules)
    outside = _imports_of_text("spmd.other", "other.py", "from spmd.pkg import sub\n", modules)
    init = _imports_of_text("spmd.pkg", "pkg/__init__.py", "import spmd.pkg.sub\n", modules)
    assert [i.target for i in inside] == ["spmd.pkg.sub"]
    assert [i.target for i in outside] == ["spmd.pkg", "spmd.pkg.sub"]
    assert [i.target for i in init] == ["spmd.pkg.sub"]
    # the package's __init__ imports the outside module: a cycle through the __init__ alone
    init_imports_other = _imports_of_text("spmd.pkg", "pkg/__init__.py",
                                          "from spmd.pkg import inner\nfrom spmd import other\n",
                                          modules)
    assert find_cycles(graph_of(init_imports_other + inside)) == []
    assert find_cycles(graph_of(init_imports_other + inside + outside)) == [
        ["spmd.other", "spmd.pkg", "spmd.other"]]


def test_checker_reports_upward_imports():
    up = Import("spmd.transforms.jvp", "spmd.collectives.psum", pathlib.Path("x.py"), 1,
                False, False, False)
    down = Import("spmd.pmap", "spmd.collectives.psum", pathlib.Path("x.py"), 1,
                  False, False, False)
    launch_to_surface = Import("spmd.launch.main", "spmd", pathlib.Path("x.py"), 1,
                               False, False, False)
    assert upward_imports([up, down, launch_to_surface]) == [up, launch_to_surface]
