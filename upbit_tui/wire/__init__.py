"""The wire: what Upbit sends and what we ask of it.

Codec, typed events, subscription state and market codes; no I/O.
"""
