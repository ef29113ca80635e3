"""Textual's Footer, rebuilt only when the keys it shows change, showing whole keys only."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual import events
from textual.widgets import Footer as _Footer

if TYPE_CHECKING:
    from textual.screen import Screen
    from textual.widget import Widget

KEPT_ACTIONS = ("help", "app.help")
"""Keys that stay when the footer is too narrow for all of them (F1 lists every key)."""


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

    Textual's Footer lays its keys out in one row and lets the ones that do not fit run
    under the command palette key at the right edge, cut mid-word ("^o Sour"). Here a key
    that does not fit whole is left out, the last ones first (the focused widget's keys come
    first), except F1 Help, which lists every key.
    """

    _rebuild_pending = False
    _shown: Any = None
    COMPACT_BELOW = 100
    """Below this width the keys are packed closer (Textual's compact footer)."""

    _widths: dict[Widget, int] | None = None
    """Each key's width with its margins, measured with every key shown."""
    _measured_compact = False
    _measuring = False

    def on_resize(self, event: events.Resize) -> None:
        self.compact = event.size.width < self.COMPACT_BELOW
        self._fit_keys()

    def _keys(self) -> list[Widget]:
        return [c for c in self.children if not c.has_class("-command-palette")]

    def _fit_keys(self) -> None:
        """Show the keys that fit whole; measure them first if they are new or restyled."""
        if self._measuring or not self.is_attached:
            return
        keys = self._keys()
        widths = self._widths
        if widths is None or self._measured_compact != self.compact or any(
                k not in widths for k in keys):
            self._measuring = True
            for key in keys:
                key.display = True
            self.call_after_refresh(self._measure)
            return
        palette = sum(c.outer_size.width + c.styles.margin.width for c in self.children
                      if c.has_class("-command-palette"))
        room = self.size.width - palette
        shown = list(keys)
        while sum(widths[k] for k in shown) > room:
            dropped = next((k for k in reversed(shown)
                            if getattr(k, "action", None) not in KEPT_ACTIONS), None)
            if dropped is None:
                break
            shown.remove(dropped)
        for key in keys:
            key.display = key in shown

    def _measure(self) -> None:
        self._measuring = False
        if not self.is_attached:
            return
        self._widths = {k: k.outer_size.width + k.styles.margin.width for k in self._keys()}
        self._measured_compact = self.compact
        self._fit_keys()

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
        self._widths = None
        self._fit_keys()
