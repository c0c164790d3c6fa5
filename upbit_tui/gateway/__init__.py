"""The gateway: one GlobalWebSocketManager served over NATS (service.py), and the remote
manager other processes use in its place (remote.py). Needs the `gateway` extra (nats-py)."""
