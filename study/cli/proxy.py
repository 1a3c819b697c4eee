"""``study proxy``: serve a PostgreSQL database to many workers through one gRPC proxy.

Serve the PostgreSQL database at --storage through Optuna's gRPC storage proxy, with study's
experiment lock, heartbeats and database artifacts on the same port: workers, status, export and
dashboard then use --storage grpc://HOST:PORT and share the proxy's database connections. It has
no login and no TLS: it listens on loopback unless --host says otherwise. SIGTERM/SIGINT stop it.
"""

from __future__ import annotations

import argparse
import sys

from study.cli import _search
from study.cli._command import add_command
from study.cli.errors import UserError

NO_LOGIN_WARNING = (
    "warning: the proxy has no login and no TLS; anyone who can reach {address} can read and "
    "change every study in the database. Keep it on a private network."
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from study.search.storage.proxy_server import CONNECTIONS, THREADS

    parser = add_command(subparsers, "proxy", __doc__, handler=run)
    parser.add_argument("--storage", metavar="URL",
                        help="the PostgreSQL database: postgresql+psycopg://USER@HOST:PORT/DB "
                        "(default: $STUDY_STORAGE)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=13000,
                        help="port (default: 13000; 0: a free one, printed)")
    parser.add_argument("--threads", type=int, default=THREADS,
                        help=f"gRPC server threads (default: {THREADS})")
    parser.add_argument("--connections", type=int, default=CONNECTIONS,
                        help="database connections for storage calls (default: "
                        f"{CONNECTIONS})")
    return parser


def run(args: argparse.Namespace) -> int:
    from study import report
    from study.search.storage.proxy_server import serve

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: expected 0..65535")
    if args.threads < 4:
        raise UserError(f"--threads {args.threads}: expected at least 4")
    if args.connections < 2:
        raise UserError(f"--connections {args.connections}: expected at least 2")
    url = _search.resolved_url(args)
    if not report.is_loopback(args.host):
        print(NO_LOGIN_WARNING.format(address=f"{args.host}:{args.port}"), file=sys.stderr)
    with _search.user_errors(url):
        return serve(url, args.host, args.port, threads=args.threads,
                     connections=args.connections)
