"""Which asyncio event loop the entry points run on: `[connection] event_loop`.

"auto" (the default) runs on uvloop when it is installed (a dependency on Linux and macOS with
CPython), else on asyncio's own loop; "asyncio" and "uvloop" ask for one. At 5,000 messages a
second each socket read carries a few frames, and waking the loop for it is most of the CPU:
uvloop does that in C (BENCHMARKS.md, "Peers").

Only the entry points choose (the app, `upbit-tui headless`): a program that embeds the manager
keeps the loop it started. It can make the same choice with `run`:

    from upbit_tui.eventloop import run
    run(main(), "auto")            # asyncio.run(main()) on the loop "auto" stands for
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, Final, TypeVar

EVENT_LOOPS: Final = ("auto", "asyncio", "uvloop")
FAST_LOOP: Final = "uvloop"

T = TypeVar("T")


def fast_loop_installed() -> bool:
    return importlib.util.find_spec(FAST_LOOP) is not None


def resolve_event_loop(name: str) -> str:
    """The loop `name` stands for ("auto" -> uvloop if installed, else asyncio).

    Raises ValueError for an unknown name, or for "uvloop" when it is not installed."""
    if name not in EVENT_LOOPS:
        raise ValueError(f"unknown event loop {name!r} (expected one of {', '.join(EVENT_LOOPS)})")
    if name == "auto":
        return FAST_LOOP if fast_loop_installed() else "asyncio"
    if name == FAST_LOOP and not fast_loop_installed():
        raise ValueError(
            "event loop 'uvloop' is not installed (pip install uvloop; Linux and macOS only), "
            'or use event_loop = "asyncio"'
        )
    return name


def loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """A factory for the loop `name` stands for (None: asyncio's default)."""
    if resolve_event_loop(name) == FAST_LOOP:
        import uvloop

        return uvloop.new_event_loop
    return None


def new_event_loop(name: str) -> asyncio.AbstractEventLoop:
    factory = loop_factory(name)
    return factory() if factory is not None else asyncio.new_event_loop()


def running_loop_name() -> str:
    """ "uvloop" or "asyncio": the loop this runs on (for logs)."""
    module = type(asyncio.get_running_loop()).__module__
    return FAST_LOOP if module.startswith(FAST_LOOP) else "asyncio"


def run(main: Coroutine[Any, Any, T], event_loop: str = "auto") -> T:
    """`asyncio.run(main)` on the loop `event_loop` stands for."""
    with asyncio.Runner(loop_factory=loop_factory(event_loop)) as runner:
        return runner.run(main)
