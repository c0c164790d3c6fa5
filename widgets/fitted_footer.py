"""A Footer that fits its width: whole keys only, the least needed dropped first.

Textual's Footer lays every shown binding out in one row and cuts what does not fit mid-word
("c Cha"), hiding the rest. This one drops whole keys in `drop_order` until the row fits, and
then labels the help key "all keys" (every binding stays reachable, and the help screen lists
them all). Below `compact_below` columns it uses the Footer's compact style.
"""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class FittedFooter(Footer):
    def __init__(
        self,
        *,
        drop_order: tuple[str, ...] = (),
        help_id: str = "help",
        compact_below: int = 120,
    ) -> None:
        super().__init__()
        self.drop_order = drop_order
        self.help_id = help_id
        self.compact_below = compact_below
        self.dropped: tuple[str, ...] = ()
        self._fitted_width = -1

    def _key_width(self, binding: Binding, description: str) -> int:
        key = self.app.get_key_display(binding)
        # " key description " normally; "key description " in the compact style.
        return len(key) + 1 + len(description) + (1 if self.compact else 2)

    def compose(self) -> ComposeResult:
        if not self._bindings_ready:
            return
        width = self.size.width or self.app.size.width
        self._fitted_width = width
        self.compact = width < self.compact_below
        active = self.screen.active_bindings
        shown = self._all()
        palette: tuple[Binding, bool, str] | None = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            entry = active.get(self.app.COMMAND_PALETTE_BINDING)
            if entry is not None:
                palette = (entry[1], entry[2], entry[3])

        def total(items: list[tuple[Binding, bool, str]]) -> int:
            used = sum(self._key_width(b, self._label(b, items)) for b, _, _ in items)
            return used + (self._key_width(palette[0], palette[0].description) if palette else 0)

        for binding_id in self.drop_order:
            if total(shown) <= width:
                break
            shown = [item for item in shown if item[0].id != binding_id]
        kept = {b.action for b, _, _ in shown}
        self.dropped = tuple(b.id or b.action for b, _, _ in self._all() if b.action not in kept)
        self.styles.grid_size_columns = len(shown) + (1 if palette else 0)
        for binding, enabled, tooltip in shown:
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                self._label(binding, shown),
                binding.action,
                disabled=not enabled,
                tooltip=tooltip,
            ).data_bind(compact=Footer.compact)
        if palette is not None:
            binding, enabled, tooltip = palette
            yield FooterKey(
                binding.key,
                self.app.get_key_display(binding),
                binding.description,
                binding.action,
                classes="-command-palette",
                disabled=not enabled,
                tooltip=binding.tooltip or binding.description,
            ).data_bind(compact=Footer.compact)

    def _all(self) -> list[tuple[Binding, bool, str]]:
        """Every binding the screen shows in a footer, one per action."""
        seen: set[str] = set()
        out = []
        for _, binding, enabled, tooltip in self.screen.active_bindings.values():
            if binding.show and binding.action not in seen:
                seen.add(binding.action)
                out.append((binding, enabled, tooltip))
        return out

    def _label(self, binding: Binding, shown: list[tuple[Binding, bool, str]]) -> str:
        if binding.id == self.help_id and len(shown) < len(self._all()):
            return "All keys"
        return binding.description

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._fitted_width:
            self.refresh(recompose=True)
