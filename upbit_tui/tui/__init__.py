"""The Textual terminal app: the app, its screens, commands and the bridge to the manager.

The panes live in the top-level widgets/ package.
"""
