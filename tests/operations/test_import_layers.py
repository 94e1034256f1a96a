"""Imports run one way: dsop_jobs -> dsop_assets -> dsop_resources (dbt_like_sql holds only SQL).

Read from the source (ast), not by importing, so a lazy import inside a function counts too: a
function-level import of dsop_jobs from an asset is still a cycle waiting for the first call.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports(package: str) -> dict[str, set[str]]:
    """module file (relative to the repo) -> top-level packages it imports (absolute imports only;
    relative ones stay inside their own package)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        tops: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                tops.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                tops.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = tops
    return found


def test_assets_and_resources_never_import_jobs():
    wrong = {f: "dsop_jobs" for pkg in ("dsop_assets", "dsop_resources", "dbt_like_sql")
             for f, tops in _imports(pkg).items() if "dsop_jobs" in tops}
    assert wrong == {}, f"these import the top layer: {sorted(wrong)}"


# Benchmarks still inside dsop_assets, to move to dsop_jobs/tools once the work on their folders has merged.
NOT_YET_MOVED: set[str] = set()


def test_code_without_assets_is_not_in_the_assets_package():
    # The demo generator, the plan benchmark and the command-line tools and benchmarks define no
    # assets; they live under dsop_jobs.
    assert not (ROOT / "dsop_assets" / "demo").exists()
    assert not (ROOT / "dsop_assets" / "planning" / "bench_plan.py").exists()
    assert (ROOT / "dsop_jobs" / "demo_data" / "generator.py").exists()
    assert (ROOT / "dsop_jobs" / "bench_plan.py").exists()
    scripts = {str(p.relative_to(ROOT)) for p in (ROOT / "dsop_assets").rglob("*.py")
               if "bench" in p.stem or p.stem in ("ablation", "__main__")}
    assert scripts <= NOT_YET_MOVED, f"benchmarks and tools belong in dsop_jobs/tools: {sorted(scripts - NOT_YET_MOVED)}"


def test_the_warehouse_pool_is_imported_from_its_one_home():
    # dsop_resources/warehouse.py defines it; a module importing it through an asset module (it used to
    # be dsop_assets.erp.assets) depends on that asset module for nothing.
    elsewhere = set()
    for pkg in ("dsop_assets", "dsop_jobs"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
                if (isinstance(node, ast.ImportFrom) and any(a.name == "WAREHOUSE_POOL" for a in node.names)
                        and node.module not in ("dsop_resources", "dsop_resources.warehouse")):
                    elsewhere.add(str(path.relative_to(ROOT)))
    assert elsewhere == set(), sorted(elsewhere)


def test_resources_never_import_assets():
    # The ERP contract, mapping and reader and the webhook delivery live in dsop_resources (read by a
    # resource and by assets alike), so the lowest layer stands on its own.
    upward = {f for f, tops in _imports("dsop_resources").items() if "dsop_assets" in tops}
    assert upward == set(), f"these import the assets layer: {sorted(upward)}"


def _module_graph() -> dict[str, set[str]]:
    """module -> project modules it imports anywhere in its file. ``from pkg import sub`` of a
    submodule is an edge to the submodule, not to ``pkg`` (that is not a cycle)."""
    files = {}
    for pkg in ("dsop_resources", "dsop_assets", "dsop_jobs"):
        for path in (ROOT / pkg).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            files[name.removesuffix(".__init__")] = path
    graph = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                edges.update(a.name for a in node.names if a.name in files)
            elif isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                subs = {f"{module}.{a.name}" for a in node.names} & files.keys()
                edges |= subs or ({module} & files.keys())
        graph[name] = edges - {name}
    return graph


def test_no_import_cycles():
    graph, cycles = _module_graph(), []

    def reach(start: str) -> set[str]:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    for module in sorted(graph):
        back = sorted(m for m in graph[module] if module in reach(m))
        if back:
            cycles.append((module, back))
    assert cycles == [], f"import cycles: {cycles[:5]}"
