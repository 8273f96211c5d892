"""The import rules: shared/ is the model layer; the portal and the back office never import each other."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "shared": {"portal", "backoffice", "wsgi"},
    "portal": {"backoffice", "wsgi"},
    "backoffice": {"portal", "wsgi"},
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_packages_respect_the_import_rules():
    broken = []
    for package, forbidden in FORBIDDEN.items():
        for path in (ROOT / package).rglob("*.py"):
            bad = _imports(path) & forbidden
            if bad:
                broken.append(f"{path.relative_to(ROOT)} imports {sorted(bad)}")
    assert not broken, "import rules broken:\n" + "\n".join(broken)


def test_only_the_composition_root_imports_both_blueprints():
    importers = [
        p.relative_to(ROOT)
        for p in ROOT.glob("*.py")
        if {"portal", "backoffice"} <= _imports(p)
    ]
    assert [str(p) for p in importers] == ["wsgi.py"]


def test_the_rule_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "x.py"
    bad.write_text("from portal import views\nimport backoffice.views\n")
    assert _imports(bad) == {"portal", "backoffice"}


def _modules_handed_to_templates(path: Path) -> list[str]:
    """render_template(..., name=value) calls in a view module whose value is an imported module."""
    import importlib
    import types

    tree = ast.parse(path.read_text(), filename=str(path))
    imported: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                imported[alias.asname or alias.name] = alias.name
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "render_template":
            for kw in node.keywords:
                if isinstance(kw.value, ast.Name) and kw.value.id in imported:
                    module, _, attr = imported[kw.value.id].rpartition(".")
                    try:
                        value = getattr(importlib.import_module(module), attr) if module else importlib.import_module(attr)
                    except (ImportError, AttributeError):
                        value = importlib.import_module(imported[kw.value.id])
                    if isinstance(value, types.ModuleType):
                        found.append(f"{path.relative_to(ROOT)}:{node.lineno} hands the template {kw.arg}={kw.value.id}")
    return found


def test_templates_are_handed_view_models_never_modules_and_check_no_role():
    handed = [line for package in ("portal", "backoffice", "shared")
              for path in (ROOT / package).rglob("*.py") for line in _modules_handed_to_templates(path)]
    role_checks = [f"{path.relative_to(ROOT)}:{n}" for path in (ROOT / "templates").rglob("*.html")
                   for n, line in enumerate(path.read_text().splitlines(), 1) if "current_user.role" in line]
    assert not handed, handed
    assert not role_checks, role_checks


def _not_found_answered_in(path: Path) -> list[str]:
    """Places where a view answers "not found" or "not allowed" itself, instead of leaving the service's
    NotFound or PermissionDenied to the app's one handler."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.ExceptHandler) and node.type is not None:
            caught = [node.type] if not isinstance(node.type, ast.Tuple) else node.type.elts
            if any(isinstance(t, ast.Name) and t.id in {"NotFound", "PermissionDenied"} for t in caught):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} catches it")
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"abort", "render_error"}
                and node.args and isinstance(node.args[0], ast.Constant) and node.args[0].value in {403, 404}):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} answers {node.args[0].value} itself")
    return found


def test_views_leave_not_found_to_the_one_handler():
    places = [place for package in ("portal", "backoffice", "shared/web")
              for path in (ROOT / package).rglob("*.py") if path.name != "hooks.py"
              for place in _not_found_answered_in(path)]
    assert not places, places


# Tests about the whole project, not one area; every other test lives in the folder of the area it tests.
PROJECT_WIDE_TESTS = {"test_architecture.py", "test_bench.py", "test_browser_skips.py"}
TEST_FOLDERS_BESIDE_AREAS = {"browser", "support", "mutation"}


def test_test_files_mirror_the_area_packages():
    """A newcomer finds an area's tests in the folder of the same name as its package in shared/."""
    tests = ROOT / "tests"
    loose = {p.name for p in tests.glob("test_*.py")} - PROJECT_WIDE_TESTS
    assert not loose, f"put these in the folder of the area they test: {sorted(loose)}"
    areas = {p.name for p in (ROOT / "shared").iterdir() if (p / "__init__.py").is_file()}
    folders = {p.name for p in tests.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders - TEST_FOLDERS_BESIDE_AREAS <= areas, sorted(folders - TEST_FOLDERS_BESIDE_AREAS - areas)
    for folder in folders - TEST_FOLDERS_BESIDE_AREAS:
        assert any((tests / folder).glob("test_*.py")), f"tests/{folder} holds no tests"


def test_no_test_module_imports_another_test_module():
    """Shared helpers live in tests/support or the factories; a test file is never another's library."""
    offenders = []
    for path in (ROOT / "tests").rglob("test_*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n.split(".")[-1].startswith("test_") for n in names if n.startswith("tests")):
                offenders.append(f"{path.relative_to(ROOT)} imports {names}")
    assert not offenders, offenders
