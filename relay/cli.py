"""`viralstock-relay`: `serve` runs the relay; `token create|list|revoke` manage subscriber
tokens (list shows ids, hash prefixes, never tokens).

The app key and secret come only from the environment (VIRALSTOCK_RELAY_APP_KEY,
VIRALSTOCK_RELAY_APP_SECRET): a secret on the command line is visible to every user of the
machine through `ps`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from relay.config import RelayConfig

__all__ = ["main"]


def _storage(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--db",
        help="SQLite file (the embedded backend; default: $VIRALSTOCK_RELAY_STORE, else "
        "relay.sqlite3)",
    )
    where.add_argument(
        "--bus",
        help="redis://HOST:PORT/DB (shared by several relay processes); a URL with a password "
        "belongs in $VIRALSTOCK_RELAY_STORE, not here, where `ps` shows it",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="viralstock-relay", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the relay")
    serve.add_argument("--host", help="default $VIRALSTOCK_RELAY_HOST, else 127.0.0.1")
    serve.add_argument(
        "--port", type=int, help="0 picks a free port; default $VIRALSTOCK_RELAY_PORT, else 8787"
    )
    _storage(serve)
    serve.add_argument(
        "--sync",
        choices=["full", "normal"],
        default="full",
        help="SQLite durability of a 200: full (fsync per commit) survives a killed relay, an OS"
        " crash and power loss; normal (no fsync) survives a killed relay, but an OS crash or"
        " power loss may lose what was answered since the last WAL checkpoint",
    )
    serve.add_argument("--event-retention", type=float, help="seconds of events kept (7 days)")
    serve.add_argument("--dedupe-retention", type=float, help="seconds of dedupe ids (48 h)")
    serve.add_argument("--trim-interval", type=float, help="seconds between trims (60)")
    serve.add_argument(
        "--ip-refusal-rate",
        type=float,
        help="refused webhook POSTs (bad signature, malformed, stale...) per second per source"
        " IP before it gets 429 (10; 0 = no limit); signed webhooks never count",
    )
    serve.add_argument(
        "--ip-refusal-burst", type=float, help="refusals per source IP before the rate (100)"
    )
    serve.add_argument(
        "--proxy-headers",
        action="store_true",
        default=None,
        help="behind a reverse proxy: the per-IP limit uses X-Forwarded-For from trusted proxies",
    )
    serve.add_argument(
        "--trusted-proxy",
        dest="trusted_proxies",
        action="append",
        metavar="ADDR",
        help="proxy address or CIDR whose X-Forwarded-For is believed (repeatable; "
        "default 127.0.0.1 and ::1; '*' trusts every peer)",
    )
    serve.add_argument(
        "--pair-rate",
        dest="pair_per_minute",
        type=float,
        help="/v1/oauth/token and /v1/pair calls per minute per source IP (6), 0 = no limit",
    )
    serve.add_argument("--pair-burst", type=float, help="burst of those calls per IP (5)")
    serve.add_argument("--sign-rate", type=float, help="/v1/sign calls/s per shop")
    serve.add_argument(
        "--no-ws-compression",
        dest="ws_compression",
        action="store_false",
        default=None,
        help="turn off permessage-deflate on /v1/stream (less relay CPU, more bandwidth)",
    )
    serve.add_argument(
        "--max-connections",
        type=int,
        help="connections held at once, HTTP and WebSocket (50000; also capped by the "
        "open-file limit); beyond it new connections get 503 with Retry-After",
    )
    serve.add_argument(
        "--max-connections-per-ip",
        type=int,
        help="connections held at once per source address (512; trusted proxies exempt)",
    )
    serve.add_argument(
        "--header-timeout", type=float, help="seconds to send request line and headers (5)"
    )
    serve.add_argument("--body-timeout", type=float, help="seconds to send a request body (10)")
    serve.add_argument("--log-level", default="INFO")

    token = commands.add_parser("token", help="subscriber tokens")
    token_commands = token.add_subparsers(dest="token_command", required=True)
    create = token_commands.add_parser("create", help="mint a token for some shops")
    create.add_argument("--shop", action="append", required=True, help="shop id (repeatable)")
    create.add_argument(
        "--open-id",
        action="append",
        default=[],
        help="the seller's (or creator's) TikTok open_id: webhooks naming it by seller_open_id"
        " or creator_open_id (e.g. FBT inventory, type 24) go to these shops (repeatable)",
    )
    _storage(create)
    listing = token_commands.add_parser(
        "list", help="stored tokens: id (a hash prefix, never the token), shops, created"
    )
    _storage(listing)
    revoke = token_commands.add_parser(
        "revoke", help="revoke a token by id: refused at once, open streams closed (4401)"
    )
    revoke.add_argument("id", help="the token's id from `token list`")
    _storage(revoke)
    return parser


def _config(args: argparse.Namespace) -> RelayConfig:
    overrides: dict[str, object] = {"db": args.db, "bus": args.bus}
    for name in (
        "host",
        "port",
        "event_retention",
        "dedupe_retention",
        "trim_interval",
        "ip_refusal_rate",
        "ip_refusal_burst",
        "sign_rate",
        "pair_per_minute",
        "pair_burst",
        "log_level",
        "ws_compression",
        "proxy_headers",
        "max_connections",
        "max_connections_per_ip",
        "header_timeout",
        "body_timeout",
    ):
        overrides[name] = getattr(args, name, None)
    trusted = getattr(args, "trusted_proxies", None)
    if trusted:
        overrides["trusted_proxies"] = tuple(
            part.strip() for entry in trusted for part in entry.split(",") if part.strip()
        )
    if getattr(args, "sync", None):
        overrides["sqlite_sync"] = args.sync.upper()
    return RelayConfig.from_env(**overrides)


def _serve(config: RelayConfig) -> int:
    from relay.app import Relay
    from relay.logs import configure, log
    from relay.proxy import ClientAddress
    from relay.server import (
        bind_socket,
        build_server,
        connection_budget,
        notify_systemd,
        raise_file_limit,
    )

    configure(config.log_level)
    if not config.app_key or not config.app_secret:
        print(
            "viralstock-relay: set VIRALSTOCK_RELAY_APP_KEY and VIRALSTOCK_RELAY_APP_SECRET",
            file=sys.stderr,
        )
        return 2
    try:
        ClientAddress(config.proxy_headers, config.trusted_proxies)
    except ValueError as exc:
        print(f"viralstock-relay: --trusted-proxy: {exc}", file=sys.stderr)
        return 2
    before, soft, hard = raise_file_limit()
    log(
        logging.getLogger("relay"),
        logging.INFO,
        "open-file limit",
        soft_before=before,
        soft=soft,
        hard=hard,
        max_connections=connection_budget(config),
        max_connections_per_ip=config.max_connections_per_ip,
    )
    sock = bind_socket(config.host, config.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    server = build_server(Relay(config), config)

    def ready() -> None:
        # Only now: the store is open (lifespan ran) and the socket accepts connections.
        url = f"http://{shown}:{port}"
        print(url, flush=True)
        notify_systemd(f"READY=1\nSTATUS=listening on {url}")

    server.on_ready = ready

    def stopping() -> None:
        notify_systemd("STOPPING=1")

    server.on_stopping = stopping
    server.run(sockets=[sock])
    return 0


def _list(config: RelayConfig) -> int:
    from datetime import UTC, datetime

    from relay.tokens import list_tokens, token_id

    records = list_tokens(config)
    print(f"{'ID':<12}  {'CREATED (UTC)':<19}  SHOPS")
    for record in records:
        created = (
            "-"
            if record.created_at is None
            else datetime.fromtimestamp(record.created_at, UTC).strftime("%Y-%m-%d %H:%M:%S")
        )
        print(f"{token_id(record.token_hash):<12}  {created:<19}  {','.join(sorted(record.shops))}")
    return 0


def _revoke(config: RelayConfig, ident: str) -> int:
    from relay.tokens import revoke_token, token_id

    try:
        record = revoke_token(config, ident)
    except ValueError as exc:
        print(f"viralstock-relay: {exc}", file=sys.stderr)
        return 2
    print(f"revoked {token_id(record.token_hash)} (shops {','.join(sorted(record.shops))})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
    except ValueError:
        print("viralstock-relay: VIRALSTOCK_RELAY_PORT is not a number", file=sys.stderr)
        return 2
    if args.command == "serve":
        return _serve(config)
    action = args.token_command
    if action in ("list", "revoke"):
        return _list(config) if action == "list" else _revoke(config, args.id)
    from relay.tokens import mint_token

    try:
        token = mint_token(config, args.shop, args.open_id)
    except ValueError as exc:
        print(f"viralstock-relay: {exc}", file=sys.stderr)
        return 2
    print(f"token for shops {', '.join(sorted(set(args.shop)))}:")
    print(token, flush=True)
    return 0
