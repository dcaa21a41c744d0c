"""The web client's files on disk: a directory Prosody's ``http_files`` serves as it is.

Layout: ``index.html`` and ``agentchat-web.js`` (from page.py) and ``converse/``, the npm
package's ``dist/`` without what a browser never asks for (source maps, the unminified build,
the project website's styles). ``link=True`` makes ``converse/`` a symlink to the installed
package (the private Prosody of ``agentchat run``); operators get a copy (their Prosody runs as
another user and must not depend on a checkout).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from agentchat.web.page import (
    ASSETS_DIR,
    CONFIG_SCRIPT,
    PageSettings,
    render_config_js,
    render_index_html,
)

DIST_ENV = "CONVERSE_DIST"
PACKAGE_DIST = Path("tools") / "node_modules" / "converse.js" / "dist"
_SKIPPED_NAMES = frozenset({"converse.js", "converse.css", "website.css", "website.min.css"})


class WebClientError(RuntimeError):
    """The page cannot be built; the text says why and what to install."""


def find_converse_dist(env: Mapping[str, str] | None = None) -> Path:
    """Converse.js's ``dist/``: ``$CONVERSE_DIST``, else ``tools/node_modules`` of this checkout
    (where scripts/bootstrap and the Containerfile install the version pinned in
    tools/package.json), else of the current directory."""
    env = os.environ if env is None else env
    explicit = env.get(DIST_ENV)
    candidates = [Path(explicit).expanduser()] if explicit else [
        Path(__file__).resolve().parents[2] / PACKAGE_DIST,
        Path.cwd() / PACKAGE_DIST,
    ]
    for path in candidates:
        if (path / "converse.min.js").is_file():
            return path.resolve()
    where = " or ".join(str(p) for p in candidates)
    raise WebClientError(
        f"Converse.js not found at {where}: run scripts/bootstrap (it installs the npm package "
        f"pinned in tools/package.json), or set {DIST_ENV} to its dist/ directory"
    )


def served_files(dist: Path) -> list[Path]:
    """The files of ``dist`` a browser may load (relative paths), sorted."""
    return sorted(
        path.relative_to(dist) for path in dist.rglob("*")
        if path.is_file() and not path.name.endswith(".map") and path.name not in _SKIPPED_NAMES
    )


def served_size(dist: Path) -> int:
    """Bytes on disk of ``served_files`` (what a copied site costs)."""
    return sum((dist / rel).stat().st_size for rel in served_files(dist))


def write_site(dest: Path, page: PageSettings, dist: Path, *, link: bool = False) -> Path:
    """Write (or rewrite) the site into ``dest``; returns ``dest``. Readable by everyone: it
    holds no secret, and Prosody may run as another user."""
    dest.mkdir(parents=True, exist_ok=True)
    dest.chmod(0o755)
    assets = dest / ASSETS_DIR
    if assets.is_symlink() or assets.is_file():
        assets.unlink()
    elif assets.is_dir():
        shutil.rmtree(assets)
    if link:
        assets.symlink_to(dist, target_is_directory=True)
    else:
        for rel in served_files(dist):
            target = assets / rel
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            shutil.copyfile(dist / rel, target)
            target.chmod(0o644)
    for name, text in (("index.html", render_index_html(page)),
                       (CONFIG_SCRIPT, render_config_js(page))):
        tmp = dest / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.chmod(0o644)
        tmp.replace(dest / name)
    return dest
