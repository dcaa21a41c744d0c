"""The xmpp layer speaks protocols; it learns about agents, the manager and permissions only
through interfaces (Directory, Inbound, CommandProvider), never by importing them."""

from __future__ import annotations

import ast
from pathlib import Path

import agentchat

PACKAGE = Path(agentchat.__file__).parent
FORBIDDEN = ("agentchat.manager", "agentchat.agents", "agentchat.permissions",
             "agentchat.commands", "agentchat.service")


def _imports(path: Path) -> list[str]:
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts[:-1])
    return _imports_in(path.read_text(encoding="utf-8"), package)


def _imports_in(source: str, package: str) -> list[str]:
    """Every module ``source`` (a module of ``package``) imports, anywhere in it (also inside
    functions and ``if TYPE_CHECKING``), relative imports resolved."""
    found: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            found.append(base)
            found.extend(f"{base}.{alias.name}" for alias in node.names)
    return found


def _forbidden(module: str) -> bool:
    return any(module == f or module.startswith(f + ".") for f in FORBIDDEN)


def test_the_xmpp_package_imports_no_service_layer() -> None:
    files = sorted((PACKAGE / "xmpp").rglob("*.py"))
    assert files, "agentchat/xmpp has no modules?"
    bad = {f"{path.relative_to(PACKAGE.parent)}: {module}"
           for path in files for module in _imports(path) if _forbidden(module)}
    assert not bad, "agentchat/xmpp must not import these (use an interface):\n" + \
        "\n".join(sorted(bad))


def test_the_import_check_sees_absolute_relative_and_lazy_imports() -> None:
    source = ("import agentchat.agents.runtime\n"
              "from ..permissions import broker\n"
              "def f():\n    from agentchat.manager.bot import ManagerBot\n")
    found = set(_imports_in(source, "agentchat.xmpp"))
    assert {"agentchat.agents.runtime", "agentchat.permissions",
            "agentchat.manager.bot"} <= found
    assert all(_forbidden(m) for m in found if m != "")
    assert not _forbidden("agentchat.xmpp.forms") and not _forbidden("agentchat.agentsx")


def test_the_service_parts_do_not_reach_back_into_the_service() -> None:
    """``Service`` is the wiring root: its parts get what they need through their constructors."""
    parts = [PACKAGE / "registry.py", PACKAGE / "agents" / "launch.py",
             *sorted((PACKAGE / "routing").rglob("*.py"))]
    bad = {f"{path.relative_to(PACKAGE.parent)}: {module}"
           for path in parts for module in _imports(path)
           if module == "agentchat.service" or module.startswith("agentchat.service.")}
    assert not bad, "\n".join(sorted(bad))
