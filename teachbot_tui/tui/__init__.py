"""The Textual app (``teachbot`` with no arguments). Build it with ``app.make_app``."""
