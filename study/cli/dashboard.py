"""``study dashboard``: browse the studies, their comparison and per-trial curves in
optuna-dashboard.

Serve optuna-dashboard over the storage and its artifact store. Each experiment's combined Pareto
figure and summary note are first saved into its studies. The dashboard has no login: it listens on
loopback unless --host says otherwise.
"""

from __future__ import annotations

import argparse
import sys

from study.cli import _search
from study.cli._command import add_command
from study.cli.errors import EXIT_STORAGE, UserError

NO_LOGIN_WARNING = (
    "warning: the dashboard has no login and its HTTP API can delete studies and upload files; "
    "anyone who can reach {address} can do so. Prefer --host 127.0.0.1 and an SSH tunnel "
    "(see dashboards/README.md)."
)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = add_command(subparsers, "dashboard", __doc__, handler=run)
    _search.add_storage(parser)
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default: 127.0.0.1, this machine only)",
    )
    parser.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    _search.add_no_publish(parser, "the comparison figures and notes into the studies first")
    return parser


def run(args: argparse.Namespace) -> int:
    from study import report  # optuna-dashboard and the storage layer load only here

    if not 0 <= args.port <= 65535:
        raise UserError(f"--port {args.port}: expected 0..65535")
    if not report.is_loopback(args.host):
        print(NO_LOGIN_WARNING.format(address=f"{args.host}:{args.port}"), file=sys.stderr)
    try:
        served = report.open_dashboard(
            args.storage,
            host=args.host,
            port=args.port,
            publish=args.publish,
            log=lambda message: print(message, file=sys.stderr),
        )
    except report.ReportError as exc:
        raise UserError(str(exc), EXIT_STORAGE if exc.storage else None) from None
    if served.published:
        print(
            f"saved the comparison into the studies of {', '.join(served.published)}",
            file=sys.stderr,
        )
    print(f"optuna-dashboard on {served.url} (Ctrl-C stops it)", file=sys.stderr)
    try:
        served.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        served.shutdown()
    return 0
