"""The network: one WebSocket connection and what keeps it honest.

Routing to subscribers, Upbit's rate limits, JWT auth, REST, recovery and metrics.
"""
