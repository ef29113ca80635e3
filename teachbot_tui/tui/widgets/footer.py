"""Textual's Footer, rebuilt only when the keys it shows change."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.widgets import Footer as _Footer

if TYPE_CHECKING:
    from textual.screen import Screen


class Footer(_Footer):
    """Textual's ``Footer``, without its redundant rebuilds.

    Textual's Footer recomposes all its keys (a dozen widgets, each styled twice) after
    *every* bindings change of its screen, even when nothing it shows changed. At start-up
    a screen's bindings "change" four or five times in a row (the screen is resumed, the
    question box is focused, the keymap is set, each focus change asks again after the next
    refresh...), and each rebuild ran in turn after the first paint while the teacher's
    first keys waited. Here changes are coalesced (one rebuild scheduled at a time, reading
    the bindings when it runs) and a rebuild that would show the same keys is skipped.
    What is shown is the same.
    """

    _rebuild_pending = False
    _shown: Any = None
    COMPACT_BELOW = 100
    """Below this width the keys are packed closer (Textual's compact footer)."""

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < self.COMPACT_BELOW

    def bindings_changed(self, screen: Screen) -> None:
        self._bindings_ready = True
        if not screen.app.app_focus:
            return
        if self.is_attached and screen is self.screen and not self._rebuild_pending:
            self._rebuild_pending = True
            self.call_after_refresh(self._rebuild)

    def _signature(self) -> Any:
        """What compose() would show: the shown bindings, their state, the palette key."""
        app = self.app
        shown = tuple(
            (binding.key, app.get_key_display(binding), binding.description, binding.action,
             enabled, tooltip, binding.tooltip, binding.group)
            for (_, binding, enabled, tooltip) in self.screen.active_bindings.values()
            if binding.show or binding.key == app.COMMAND_PALETTE_BINDING
        )
        return shown, self.show_command_palette, app.ENABLE_COMMAND_PALETTE

    async def _rebuild(self) -> None:
        self._rebuild_pending = False
        if not self.is_attached:
            return
        try:
            signature = self._signature()
        except Exception:  # noqa: BLE001 - never worse than Textual's own footer
            signature = object()
        if signature == self._shown:
            return
        self._shown = signature
        await self.recompose()
