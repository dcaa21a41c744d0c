"""3. Creation: task message → "created" reply (the agent exists and answers at the address the
reply gives), vs the account-per-agent design's cost to the same point (``prosodyctl register``
+ a SCRAM c2s login of the new account), measured the same way from the client side.

The agent's subscription request follows the reply and is timed too, but it is not in the
ratio: the account-per-agent design sends one as well, after its login, and what it costs
(the owner's server files it in their roster) is the server's, the same in both designs."""

from __future__ import annotations

import secrets

from bench.common import DOMAIN, Account, Row, fmt_ms, loadgen, percentile
from bench.context import MANAGER, Ctx

CREATIONS = 30
ACCOUNTS = 10
TARGET_RATIO = 10.0


async def run(ctx: Ctx) -> None:
    owner = await ctx.user("create")
    made = await loadgen(ctx.spec("create", [owner], manager=MANAGER, count=CREATIONS,
                                  timeout=10, max_s=120))
    created = [c["created"] - c["task"] for c in made["creations"]]
    subscribed = [c["subscribe"] - c["task"] for c in made["creations"]]

    prosody = ctx.world.prosody
    fresh = [Account(f"seed{i}x{secrets.token_hex(3)}", secrets.token_urlsafe(12))
             for i in range(ACCOUNTS)]
    base = await loadgen(ctx.spec(
        "accounts", fresh, domain=DOMAIN, cwd=str(prosody.base_dir),
        register_argv=["prosodyctl", "--config", str(prosody.config_path), "register"],
    ), timeout=300)
    register = [a["register"] for a in base["accounts"]]
    login = [a["login"] for a in base["accounts"]]
    seed = [a["register"] + a["login"] for a in base["accounts"]]

    def p(values: list[int], q: float = 50) -> float:
        return percentile(values, q) / 1e6

    ratio = p(seed) / p(created)
    ctx.results.add(
        Row("Creation", f"task → 'created' reply p50 / p99 ({len(created)})",
            f"{fmt_ms(p(created))} / {fmt_ms(p(created, 99))}",
            f"{fmt_ms(p(seed))} / {fmt_ms(p(seed, 99))}", f"{ratio:.0f}× faster",
            f"≥ {TARGET_RATIO:.0f}×", ratio >= TARGET_RATIO),
        Row("Creation", "task → subscription request p50 / p99 (after the reply)",
            f"{fmt_ms(p(subscribed))} / {fmt_ms(p(subscribed, 99))}", "",
            "both designs send it"),
        Row("Creation", f"seed: register / SCRAM login p50 ({len(seed)})", "",
            f"{fmt_ms(p(register))} / {fmt_ms(p(login))}"),
    )
