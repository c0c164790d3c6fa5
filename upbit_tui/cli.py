"""The `upbit-tui` command: the terminal app (default), `headless` for bots, `exchange` for the
embedded Upbit simulator. Each subcommand lives in its own module, imported only when used, so
`upbit-tui headless` never pays for importing Textual."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="upbit-tui",
        description="Real-time Upbit market data in the terminal.",
    )
    parser.add_argument(
        "--config", metavar="PATH", help="TOML config file (see config.example.toml)"
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="start the embedded Upbit simulator and connect to it (no account or network needed)",
    )
    parser.add_argument(
        "--gateway", metavar="URL", help="attach to an upbit-tui gateway at this NATS URL"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    from upbit_tui.exchange.cli import add_exchange_parser
    from upbit_tui.headless.run import add_headless_parser

    add_exchange_parser(sub)
    add_headless_parser(sub)
    from upbit_tui.gateway.cli import add_gateway_parser

    add_gateway_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from upbit_tui.tui.app import run_app

        return run_app(args)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
