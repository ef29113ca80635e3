"""Widgets of the teachbot app."""
