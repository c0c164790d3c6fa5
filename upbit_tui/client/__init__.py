"""The face: GlobalWebSocketManager and the proxies components hold.

Also the collaborators the manager conducts (the private side and its REST fallback).
"""
