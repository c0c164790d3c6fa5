"""Headless mode for bots.

JSON lines on stdout, options, output buffering and Prometheus metrics.
"""
