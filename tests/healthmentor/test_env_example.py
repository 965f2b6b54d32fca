""".env.example documents every variable the settings read."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
# Read by tests and tools, not by the portal.
NOT_SETTINGS = {"POSTGRES_PASSWORD"}


def _read_by_settings() -> set[str]:
    """Names passed to env(...), env.<cast>(...) or _secret(...) in healthmentor/settings.py."""
    tree = ast.parse((ROOT / "healthmentor" / "settings.py").read_text())
    names = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        is_env = (isinstance(func, ast.Name) and func.id in ("env", "_secret")) or (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id == "env"
        )
        first = node.args[0]
        if is_env and isinstance(first, ast.Constant) and isinstance(first.value, str):
            names.add(first.value)
    return names


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s?([A-Z][A-Z0-9_]+)=", text, re.MULTILINE))


def test_every_variable_the_settings_read_is_in_env_example():
    read = _read_by_settings()
    assert {"DJANGO_SECRET_KEY", "DATABASE_URL", "PHI_ENCRYPTION_KEYS"} <= read  # the parser works
    assert read - _documented() == set()


def test_env_example_lists_nothing_the_settings_do_not_read():
    assert _documented() - _read_by_settings() - NOT_SETTINGS == set()


def test_env_example_holds_no_secret_value():
    text = (ROOT / ".env.example").read_text()
    for name in ("DJANGO_SECRET_KEY", "PHI_ENCRYPTION_KEYS", "PHI_BLIND_INDEX_KEY"):
        assert re.search(rf"^{name}=$", text, re.MULTILINE), f"{name} must be left empty"
