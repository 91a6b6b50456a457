"""Packaging: the presets and the dataset ship in the wheel and are found from an installed copy; every
third-party import is a declared dependency, and what is imported at start-up is in the base set."""

from __future__ import annotations

import ast
import importlib.metadata as md
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from workbench.config import PRESETS_DIR, list_presets
from workbench.datasets import DATASETS_DIR
from workbench.datasets.bank import FILES

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
#: Imported by us, installed by a declared distribution that requires it (checked below against metadata).
COMES_WITH = {"starlette": "fastapi", "pydantic_core": "pydantic", "IPython": "ipywidgets"}
#: Imported by us, installed outside pyproject on purpose.
OUTSIDE = {"llama_cpp": "built by scripts/setup.sh with flags that work on these machines (ENVIRONMENT.md)",
           "pytest": "workbench.memory.contract: the reusable contract tests, used by the test suite ([dev])"}
#: Start-up: `import workbench`, the core packages and the `workbench` command.
START = ["workbench", "workbench.cli", "workbench.config", "workbench.models", "workbench.datasets",
         "workbench.components", "workbench.pipelines", "workbench.cache", "workbench.memory", "workbench.tools",
         "workbench.serving", "workbench.stores", "workbench.observability"]


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[]", requirement, maxsplit=1)[0].lower().replace("_", "-")


BASE = {_name(r) for r in PROJECT["dependencies"]}
EXTRAS = {extra: {_name(r) for r in reqs} for extra, reqs in PROJECT["optional-dependencies"].items()}


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted((ROOT / "workbench").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _imports(nodes: list[ast.stmt] | list[ast.AST]) -> set[str]:
    names: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in MODULES)
    return names


def _import_time(tree: ast.Module) -> set[str]:
    """Imports run when the module is imported: module level (also under if/try), and inside the module's own
    functions that it calls at module level (``_register_subcommands()``)."""
    nodes: list[ast.AST] = []
    called = {n.value.func.id for n in tree.body if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call)
              and isinstance(n.value.func, ast.Name)}

    def walk(body: list[ast.stmt]) -> None:
        for n in body:
            if isinstance(n, ast.Import | ast.ImportFrom):
                nodes.append(n)
            elif isinstance(n, ast.If | ast.Try):
                for part in (n.body, n.orelse, getattr(n, "finalbody", []), *[h.body for h in getattr(n, "handlers", [])]):
                    walk(part)
            elif isinstance(n, ast.FunctionDef) and n.name in called:
                nodes.extend(ast.walk(n))

    walk(tree.body)
    return _imports(nodes)


def _top(name: str) -> str | None:
    top = name.split(".")[0]
    return None if top in sys.stdlib_module_names or top in ("workbench", "__future__") else top


def _distributions(top: str) -> set[str]:
    return {d.lower().replace("_", "-") for d in md.packages_distributions().get(top, [])}


def test_every_third_party_import_is_declared() -> None:
    declared = BASE.union(*EXTRAS.values())
    tops = {t for path in MODULES.values() for n in _imports(list(ast.walk(ast.parse(path.read_text())))) if (t := _top(n))}
    assert {"numpy", "ragas", "locust", "psycopg", "uvicorn"} <= tops  # the reader sees lazy imports too
    undeclared = {}
    for top in sorted(tops - set(OUTSIDE)):
        if top in COMES_WITH:
            parent = COMES_WITH[top]
            assert parent in declared
            needs = {_name(r) for r in md.requires(parent) or [] if "extra ==" not in r}
            assert _distributions(top) & needs, f"{parent} does not require {top}"
            continue
        dists = _distributions(top)
        if not dists & declared:
            undeclared[top] = sorted(dists)
    assert undeclared == {}, "add these to pyproject.toml's dependencies or an extra"


def test_start_up_needs_only_the_base_set() -> None:
    seen: set[str] = set()
    todo = list(START)
    third: dict[str, str] = {}
    while todo:
        mod = todo.pop()
        if mod in seen or mod not in MODULES:
            continue
        seen.add(mod)
        parts = mod.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]  # a module's packages run first
        for name in _import_time(ast.parse(MODULES[mod].read_text(encoding="utf-8"))):
            if name in MODULES:
                todo.append(name)
            elif (top := _top(name)) is not None:
                third.setdefault(top, mod)
    assert {"workbench.loadtest.cli", "workbench.serving.http_app"} <= seen  # the command's subcommands
    missing = {top: mod for top, mod in third.items()
               if top not in OUTSIDE and not (_distributions(top) & BASE)
               and not (top in COMES_WITH and COMES_WITH[top] in BASE)}
    assert missing == {}, "imported at start-up (module: first importer) but only in an extra"


def test_extras_and_all() -> None:
    assert {"serve", "lab", "eval", "loadtest", "postgres", "all", "dev"} <= set(EXTRAS)
    all_reqs = PROJECT["optional-dependencies"]["all"]
    assert all_reqs == ["rag-serving-workbench[serve,lab,eval,loadtest,postgres]"]


def test_presets_and_dataset_are_package_data_in_a_checkout() -> None:
    """In a source checkout the package's folders are the repository's README folders (one copy)."""
    assert PRESETS_DIR == ROOT / "workbench" / "configs" and PRESETS_DIR.samefile(ROOT / "configs")
    assert (DATASETS_DIR / "meridian_bank").samefile(ROOT / "datasets" / "meridian_bank")
    assert {"default", "fast", "quality"} <= set(list_presets())


@pytest.mark.slow
def test_the_wheel_ships_presets_and_dataset_and_an_installed_copy_finds_them(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("workbench", "configs", "datasets"):
        shutil.copytree(ROOT / name, src / name, symlinks=True, ignore=ignore)
    wheels = tmp_path / "wheels"
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(wheels), str(src)], capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    (wheel,) = wheels.glob("rag_serving_workbench-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for preset in ("default", "fast", "quality"):
        assert f"workbench/configs/{preset}.yaml" in names
    for data_file in (*FILES, "manifest.json", "AUTHORING.md"):
        assert f"workbench/datasets/meridian_bank/{data_file}" in names
    assert "workbench/tools/plugins/bank.py" in names  # the bundled tool plugins (a folder without __init__)

    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1])\n"
            "import workbench\n"
            "from workbench.config import PipelineConfig, list_presets\n"
            "from workbench.datasets import DATASETS_DIR, load_dataset, validate_dataset\n"
            "assert workbench.__file__.startswith(sys.argv[1]), workbench.__file__\n"
            "assert str(DATASETS_DIR).startswith(sys.argv[1]), DATASETS_DIR\n"
            "assert {'default', 'fast', 'quality'} <= set(list_presets()), list_presets()\n"
            "cfg = PipelineConfig.load('fast')\n"
            "ds = load_dataset('meridian_bank')\n"
            "assert str(ds.root).startswith(sys.argv[1]) and validate_dataset(ds) == [], validate_dataset(ds)\n"
            "print('found', cfg.name, len(ds.documents))\n")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.startswith("found fast ")
