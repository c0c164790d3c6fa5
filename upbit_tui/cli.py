"""The `upbit-tui` command: the terminal app (no command), `headless` for bots, `exchange` for the
embedded Upbit simulator. Each subcommand lives in its own module, imported only when used, so
`upbit-tui headless` never pays for importing Textual."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from upbit_tui import __version__
from upbit_tui.config import ACCESS_KEY_ENV, CONFIG_PATH_ENV, SECRET_KEY_ENV
from upbit_tui.redaction import install_log_redaction

EXIT_USAGE = 2

DESCRIPTION = """\
Real-time Upbit market data in the terminal.

Without a COMMAND, upbit-tui opens the terminal app (with --demo, on the embedded
simulator: no account or network needed)."""

EPILOG = f"""\
config file, the first that applies:
  1. --config PATH
  2. ${CONFIG_PATH_ENV}
  3. ~/.config/upbit-tui/config.toml (under $XDG_CONFIG_HOME if set), if it exists
  4. built-in defaults: Upbit's real endpoints (every key: config.example.toml)
  A bad config is one line on stderr naming the file, section and key; exit status 2.

API keys (balances and orders only; everything public works without them):
  {ACCESS_KEY_ENV} and {SECRET_KEY_ENV} in the environment (they override [auth])

keys in the terminal app:
{{keys}}

examples:
  upbit-tui --demo
  upbit-tui headless --demo --types trade | jq -c '{{code, trade_price}}'
  upbit-tui exchange --port 8765"""


class _TopLevelParser(argparse.ArgumentParser):
    """Builds the app's key list only when --help asks for it (it means importing Textual)."""

    def format_help(self) -> str:
        self.epilog = EPILOG.replace("{keys}", app_keys_help())
        return super().format_help()


def app_keys_help() -> str:
    """The terminal app's key bindings, one per line, read from the app itself."""
    from textual.binding import Binding
    from textual.keys import key_to_character

    from upbit_tui.tui.app import UpbitApp

    keys: dict[str, list[str]] = {}
    for binding in Binding.make_bindings(UpbitApp.BINDINGS):
        char = key_to_character(binding.key)  # "question_mark" -> "?"
        shown = char if char and char.isprintable() else binding.key
        names = keys.setdefault(binding.description, [])
        if shown not in names:
            names.append(shown)
    lines = [f"  {'/'.join(names):<10} {description}" for description, names in keys.items()]
    lines.append(f"  {'ctrl+p':<10} Command palette (every action, timeframes, add a market)")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = _TopLevelParser(
        prog="upbit-tui",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"upbit-tui {__version__}")
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
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=argparse.ArgumentParser
    )

    from upbit_tui.exchange.cli import add_exchange_parser
    from upbit_tui.headless.run import add_headless_parser

    add_exchange_parser(sub)
    add_headless_parser(sub)
    from upbit_tui.gateway.cli import add_gateway_parser

    add_gateway_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    install_log_redaction()  # no token in any log line, whichever front end logs it
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        from upbit_tui.tui.app import run_app

        return run_app(args)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
