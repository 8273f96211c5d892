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
