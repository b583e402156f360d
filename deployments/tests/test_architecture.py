"""The layout's rules, checked on the source (see docs/architecture.md): each test fails on the import that breaks one.

The walk reads every module's AST, function bodies included, so an import moved into a function still counts.
"""

import ast
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = ("deployments", "tenants", "portal", "cli")

# Layers that raise plain domain errors and know nothing of HTTP.
PURE_LAYERS = ("deployments/services/", "deployments/selectors/", "deployments/models/", "deployments/engine/")
PURE_MODULES = ("tenants/services.py", "tenants/selectors.py")
# Modules allowed to import HTTP anyway: none since the plain domain errors (portal/errors.py). An entry may only be
# added with a reason, and the test fails on a stale one.
HTTP_IMPORTS_ALLOWED: dict[str, set[str]] = {}
# Function-local imports of Berth's own modules in product code; each says why on its line or the line above.
MAX_LOCAL_IMPORTS = 5


@dataclass(frozen=True)
class Import:
    path: str  # relative to the repository, e.g. "deployments/services/apps.py"
    module: str  # the imported module, resolved (relative imports made absolute, `from a import b` -> a.b if b is one)
    line: int
    local: bool  # inside a function body


def _module_of(path: Path) -> str:
    parts = list(path.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(dotted: str, root: Path = ROOT) -> bool:
    base = root.joinpath(*dotted.split("."))
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def imports_of(path: Path, root: Path = ROOT) -> list[Import]:
    """Return every import in a file, with the module it names and whether it sits in a function."""
    rel = path.relative_to(root)
    package = _module_of(rel).split(".")
    if rel.name != "__init__.py":
        package = package[:-1]
    found: list[Import] = []

    def visit(node: ast.AST, local: bool) -> None:
        for child in ast.iter_child_nodes(node):
            inside = local or isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda)
            if isinstance(child, ast.Import):
                found.extend(Import(str(rel), alias.name, child.lineno, local) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package[: len(package) - (child.level - 1)]
                    source = ".".join([*base, *([child.module] if child.module else [])])
                else:
                    source = child.module or ""
                for alias in child.names:
                    candidate = f"{source}.{alias.name}"
                    module = candidate if _is_module(candidate, root) else source
                    found.append(Import(str(rel), module, child.lineno, local))
            visit(child, inside)

    visit(ast.parse(path.read_text(), filename=str(rel)), False)
    return found


def product_files(root: Path = ROOT) -> list[Path]:
    """Berth's product code: the apps, the project and the CLI, without tests and migrations."""
    return sorted(
        path
        for top in OWN
        for path in (root / top).rglob("*.py")
        if "tests" not in path.relative_to(root).parts and "migrations" not in path.relative_to(root).parts
    )


def _names(module: str, *prefixes: str) -> bool:
    return any(module == prefix or module.startswith(prefix + ".") for prefix in prefixes)


def package_of(module: str) -> str | None:
    """Return the deployments package a module belongs to: its first component under deployments/, except that each
    sub-package of services/ is a package of its own, and so is each module of realtime/ (it holds both the publisher
    that services and the collector call, and the consumers that call them)."""
    parts = module.split(".")
    if parts[0] != "deployments" or len(parts) < 2:
        return None
    if parts[1] == "services" and len(parts) >= 3 and (ROOT / "deployments" / "services" / parts[2]).is_dir():
        return f"services.{parts[2]}"
    if parts[1] == "realtime" and len(parts) >= 3:
        return f"realtime.{parts[2]}"
    return parts[1]


def package_graph(files: list[Path], root: Path = ROOT) -> dict[str, dict[str, list[str]]]:
    """Return {package: {imported package: ["path:line", ...]}} for the deployments app."""
    graph: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for path in files:
        source = package_of(_module_of(path.relative_to(root)))
        if source is None:
            continue
        for item in imports_of(path, root):
            target = package_of(item.module)
            if target is not None and target != source:
                graph[source][target].append(f"{item.path}:{item.line}")
    return graph


def cycles(graph: dict[str, dict[str, list[str]]]) -> list[list[str]]:
    """Return the strongly connected components of more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, {}):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in list(graph):
        if node not in index:
            visit(node)
    return found


def local_imports(files: list[Path], root: Path = ROOT) -> list[Import]:
    """Return the function-local imports of Berth's own modules, one per import statement."""
    seen: dict[tuple[str, int], Import] = {}
    for path in files:
        for item in imports_of(path, root):
            if item.local and _names(item.module, *OWN):
                seen.setdefault((item.path, item.line), item)
    return list(seen.values())


def _has_reason(item: Import, root: Path = ROOT) -> bool:
    lines = (root / item.path).read_text().splitlines()
    here, above = lines[item.line - 1], lines[item.line - 2] if item.line > 1 else ""
    return "#" in here or above.strip().startswith("#")


def test_only_the_engine_adapter_imports_docker():
    offenders = [
        f"{item.path}:{item.line} imports {item.module}"
        for path in product_files()
        if not str(path.relative_to(ROOT)).startswith("deployments/engine/")
        for item in imports_of(path)
        if _names(item.module, "docker")
    ]
    assert offenders == []


def test_services_selectors_models_and_engine_import_nothing_of_http():
    offenders: dict[str, set[str]] = defaultdict(set)
    for path in product_files():
        rel = str(path.relative_to(ROOT))
        if not (rel.startswith(PURE_LAYERS) or rel in PURE_MODULES):
            continue
        for item in imports_of(path):
            if _names(item.module, "rest_framework", "django.http", "django.shortcuts"):
                offenders[rel].add(
                    item.module.split(".")[0] if item.module.startswith("rest_framework") else item.module
                )
    unexpected = {
        path: sorted(found - HTTP_IMPORTS_ALLOWED.get(path, set()))
        for path, found in offenders.items()
        if found - HTTP_IMPORTS_ALLOWED.get(path, set())
    }
    assert unexpected == {}
    # The allow-list only shrinks: an entry that no longer imports what it lists must go.
    stale = {path: sorted(allowed - offenders.get(path, set())) for path, allowed in HTTP_IMPORTS_ALLOWED.items()}
    assert {path: found for path, found in stale.items() if found} == {}


def test_the_packages_of_deployments_import_each_other_without_a_cycle():
    graph = package_graph(product_files())
    found = cycles(graph)
    detail = {
        f"{source} -> {target}": places
        for component in found
        for source in component
        for target, places in graph[source].items()
        if target in component
    }
    assert (found, detail) == ([], {})


def test_the_tenants_tests_import_nothing_from_the_deployments_tests():
    offenders = [
        f"{item.path}:{item.line} imports {item.module}"
        for path in sorted((ROOT / "tenants" / "tests").rglob("*.py"))
        for item in imports_of(path)
        if _names(item.module, "deployments.tests")
    ]
    assert offenders == []


def test_few_function_local_imports_each_saying_why():
    found = local_imports(product_files())
    assert len(found) <= MAX_LOCAL_IMPORTS, sorted(f"{item.path}:{item.line} {item.module}" for item in found)
    assert [f"{item.path}:{item.line}" for item in found if not _has_reason(item)] == []
