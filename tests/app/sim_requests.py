"""What the simulator says the app's public connection is subscribed to (its ground truth)."""

from __future__ import annotations

from typing import Any


def last_request_types(sim: Any) -> dict[str, set[str]]:
    """type -> market codes (depth suffix stripped) of the open public connection's current
    subscription, as the simulator parsed it from the last request message."""
    sessions = [
        s for s in sim.stats()["connections"]["items"] if s["endpoint"] == "public" and s["open"]
    ]
    if not sessions or not sessions[-1]["subscription"]:
        return {}
    out: dict[str, set[str]] = {}
    for entry in sessions[-1]["subscription"]:
        codes = {code.split(".")[0] for code in entry["codes"] or []}
        out.setdefault(entry["type"], set()).update(codes)
    return out
