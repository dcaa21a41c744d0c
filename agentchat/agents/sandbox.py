"""One bubblewrap (``bwrap``) sandbox per agent process.

Why: every agent runs as agentchat's own OS user. Without a sandbox, an agent's approved Bash
can read other agents' MCP configs (and with their secret raise prompts in other chats), write
into every repository and into agentchat's state, and see every process. In the sandbox the
agent sees the system read-only, its own working tree and its own home read-write, its own MCP
config read-only, and nothing of agentchat's home, the other repositories, the service user's
home or ``/tmp`` (a private one instead); it has its own PID namespace and dies with agentchat.
The network stays shared: the model API and the loopback MCP server must be reachable.

The argv builder is pure (unit-tested); ``probe`` runs bwrap once to learn whether it works on
this machine (containers often forbid the namespaces it needs).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

import attrs

from agentchat.config.model import SandboxMode as Mode

PROBE_TIMEOUT_S = 10.0


@attrs.frozen
class SandboxPolicy:
    """What one agent process may see; every path absolute and resolved.

    ``hide``: directories replaced by an empty, read-only tmpfs (agentchat's home, the work
    base path, the service user's home). ``scratch``: replaced by an empty, writable, private
    tmpfs (/tmp). ``read_only`` and ``read_write`` are bound back on top, in that order: the
    CLI's installation and the MCP config; the working tree and the agent's own home.
    """

    bwrap: str
    hide: tuple[Path, ...] = ()
    scratch: tuple[Path, ...] = ()
    read_only: tuple[Path, ...] = ()
    read_write: tuple[Path, ...] = ()


def _parents_first(paths: Iterable[Path]) -> list[Path]:
    """Sorted so that a directory comes before what is inside it; no duplicates, never ``/``."""
    unique = {p for p in paths if p != Path("/")}
    return sorted(unique, key=lambda p: (len(p.parts), str(p)))


def bwrap_argv(policy: SandboxPolicy, command: list[str], cwd: Path) -> list[str]:
    """``bwrap … -- command``: read-only system, hidden areas, own binds, own PID namespace."""
    argv = [policy.bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc"]
    for path in _parents_first((*policy.hide, *policy.scratch)):
        argv += ["--tmpfs", str(path)]
    for path in dict.fromkeys(policy.read_only):
        argv += ["--ro-bind", str(path), str(path)]
    for path in dict.fromkeys(policy.read_write):
        argv += ["--bind", str(path), str(path)]
    # after the binds (their mount points are made in the tmpfs), which stay writable
    for path in _parents_first(p for p in policy.hide if p not in policy.scratch):
        argv += ["--remount-ro", str(path)]
    argv += ["--unshare-pid", "--unshare-ipc", "--die-with-parent", "--chdir", str(cwd),
             "--", *command]
    return argv


def cli_install_paths(command: str) -> tuple[Path, ...]:
    """What must stay visible for an agent's CLI to run: its path, its real file, its package.

    An npm install runs from ``node_modules`` (the ``.bin`` link and the package it points
    into, or a native binary inside it, as Codex's): bind the whole ``node_modules``. A native
    install is one file behind a link. Interpreters (``/usr/bin/node``) are system files.
    """
    found = shutil.which(command) if "/" not in command else command
    if found is None:
        return ()
    link = Path(found).absolute()
    real = link.resolve()
    paths = [link.parent, real.parent]
    for candidate in (link, real):
        parts = candidate.parts
        if "node_modules" in parts:
            paths.append(Path(*parts[: parts.index("node_modules") + 1]))
    return tuple(p for p in dict.fromkeys(paths) if p.exists())


def agent_policy(
    bwrap: str,
    *,
    agentchat_home: Path,
    base_path: Path,
    command: str,
    read_only: Iterable[Path] = (),
    read_write: Iterable[Path] = (),
) -> SandboxPolicy:
    """The policy of every agent (``command``: its CLI, Claude Code's or an ACP agent's): hide
    agentchat's home, all repositories, the service user's home and the per-user runtime dirs
    (sockets), a private /tmp; bind back what it needs."""
    hidden = [agentchat_home, base_path, Path.home(), Path("/run/user")]
    return SandboxPolicy(
        bwrap,
        hide=tuple(p.resolve() for p in hidden if p.is_dir()),
        scratch=(Path("/tmp").resolve(),),
        read_only=(*cli_install_paths(command), *read_only),
        read_write=tuple(read_write),
    )


def find_bwrap() -> str | None:
    return shutil.which("bwrap")


def probe(bwrap: str, timeout: float = PROBE_TIMEOUT_S) -> str | None:
    """Start a sandbox like an agent's; None if it works, else bwrap's own words."""
    policy = SandboxPolicy(bwrap, hide=(Path("/run"),), scratch=(Path("/tmp"),))
    argv = bwrap_argv(policy, ["true"], Path("/"))
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=timeout, check=False)
    except OSError as exc:
        return f"cannot run {bwrap}: {exc.strerror or exc}"
    except subprocess.TimeoutExpired:
        return f"{bwrap} did not finish within {timeout:g} s"
    if done.returncode == 0:
        return None
    text = done.stderr.decode(errors="replace").strip().splitlines()
    return text[-1] if text else f"{bwrap} exited with {done.returncode}"


HOW_TO_ENABLE = (
    "bubblewrap needs user and mount namespaces: on a host, allow unprivileged user "
    "namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0; "
    "Ubuntu: kernel.apparmor_restrict_unprivileged_userns=0); in a container, run it with "
    "--security-opt seccomp=unconfined --security-opt apparmor=unconfined (podman/docker) "
    "or --cap-add SYS_ADMIN; or set agents.sandbox to \"off\" (see README, Security)"
)
HOW_TO_INSTALL = "install bubblewrap (apt-get install bubblewrap) or set agents.sandbox to \"off\""


@attrs.frozen
class SandboxStatus:
    """The outcome of ``agents.sandbox`` on this machine."""

    bwrap: str | None  # None: agents run without a sandbox
    message: str  # one line for the log and `agentchat check`
    ok: bool  # False: "on" was asked for and cannot be had (agents are refused)


def detect(mode: Mode) -> SandboxStatus:
    """Resolve ``agents.sandbox``: "auto" uses bwrap where it works, "on" insists, "off" not."""
    if mode == "off":
        return SandboxStatus(None, "agents.sandbox is \"off\": agents run without a sandbox "
                                   "and can reach everything agentchat's user can", True)
    bwrap = find_bwrap()
    if bwrap is None:
        why = f"bwrap not found ({HOW_TO_INSTALL})"
    else:
        problem = probe(bwrap)
        if problem is None:
            return SandboxStatus(bwrap, f"bubblewrap sandbox works ({bwrap})", True)
        why = f"{bwrap} does not work here: {problem}; {HOW_TO_ENABLE}"
    if mode == "on":
        return SandboxStatus(None, f"agents.sandbox is \"on\" but {why}", False)
    return SandboxStatus(None, f"agents run WITHOUT a sandbox: {why}", True)
