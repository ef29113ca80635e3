"""Every key of the app, in one table.

The table feeds three things, so they cannot drift apart:

* the ``BINDINGS`` of the app, screens and widgets (:func:`bindings`), each with an ``id``;
* the help screen (F1), which lists every entry with the key actually in effect;
* the command palette, which offers every action (``ctrl+p``).

Keys are remapped in ``config.toml`` by binding id::

    [keys]
    stop = "ctrl+c"
    new_conversation = "ctrl+n,f9"

Ids are the first column of :data:`KEYS`; ``teachbot`` ignores unknown ids with a warning.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding


@dataclass(frozen=True)
class KeyAction:
    id: str
    """Binding id: the name used in ``[keys]`` of config.toml."""
    key: str
    """Default key(s), comma separated, in Textual's key names."""
    action: str
    """The Textual action run by the key (in the scope's namespace)."""
    title: str
    """Short name (Footer, command palette)."""
    help: str
    """One sentence for the help screen and the command palette."""
    scope: str
    """Where the key works: app, chat, prompt, message, sidebar, library, settings, practice,
    dialog."""
    show: bool = True
    """Shown in the Footer."""
    priority: bool = False
    palette: bool = True
    """Offered in the command palette."""


SCOPE_TITLES: dict[str, str] = {
    "app": "Everywhere",
    "chat": "Chat",
    "prompt": "Chat: the question box",
    "message": "Chat: a selected message",
    "sidebar": "Chat: the conversation list",
    "sources": "Chat: a sources list",
    "library": "Library",
    "settings": "Models & settings",
    "practice": "Practice",
    "dialog": "Dialogs and the passage view",
}

KEYS: tuple[KeyAction, ...] = (
    # Everywhere
    KeyAction("help", "f1", "app.help", "Help", "Show this list of keys.", "app"),
    # the screens' keys are not repeated in the Footer: the top line shows them
    KeyAction("chat", "f2", "app.switch_mode('chat')", "Chat", "Go to the chat screen.", "app",
              show=False),
    KeyAction("library", "f3", "app.switch_mode('library')", "Library",
              "Go to the document library: import, sync and remove documents.", "app",
              show=False),
    KeyAction("settings", "f4", "app.switch_mode('settings')", "Models",
              "Go to models & settings: pick a model, tune answers and retrieval.", "app",
              show=False),
    KeyAction("practice", "f5", "app.switch_mode('practice')", "Practice",
              "Go to practice mode: classroom scenarios with feedback.", "app",
              show=False),
    KeyAction("command_palette", "ctrl+p", "app.command_palette", "Commands",
              "Open the command palette: search every action by name.", "app", show=False),
    KeyAction("quit", "ctrl+q", "app.quit", "Quit",
              "Quit teachbot (conversations are already saved).", "app", priority=True),
    # Chat screen
    KeyAction("stop", "escape", "stop", "Stop",
              "Stop the reply being written; the partial reply is kept, marked stopped.",
              "chat"),
    KeyAction("new_conversation", "ctrl+n", "new_conversation", "New",
              "Start a new conversation.", "chat"),
    KeyAction("regenerate", "ctrl+r", "regenerate", "Regenerate",
              "Write the last reply again.", "chat", show=False),
    KeyAction("show_sources", "ctrl+o", "show_sources", "Sources",
              "Jump to the sources of the last answer (Enter opens a passage).", "chat"),
    KeyAction("rename_conversation", "ctrl+t", "rename_conversation", "Rename",
              "Rename the current conversation.", "chat", show=False),
    KeyAction("export_conversation", "ctrl+s", "export_conversation", "Export",
              "Export the current conversation to a Markdown file.", "chat", show=False),
    KeyAction("delete_conversation", "ctrl+delete", "delete_conversation", "Delete",
              "Delete the current conversation (asks first).", "chat", show=False),
    KeyAction("copy_last_reply", "ctrl+g", "copy_last_reply", "Copy reply",
              "Copy the last reply to the clipboard.", "chat", show=False),
    KeyAction("toggle_sidebar", "ctrl+b", "toggle_sidebar", "Sidebar",
              "Show or hide the conversation list (hidden at first on narrow terminals).",
              "chat", show=False),
    KeyAction("focus_conversations", "ctrl+l", "focus_conversations", "Conversations",
              "Move to the conversation list.", "chat", show=False),
    # The question box (handled by the prompt itself, remappable like the rest)
    KeyAction("send", "enter", "send", "Send", "Send the question.", "prompt",
              show=False, palette=False),
    KeyAction("newline", "ctrl+j,shift+enter,alt+enter", "newline", "New line",
              "Insert a new line in the question (ctrl+j works in every terminal).",
              "prompt", show=False, palette=False),
    # A selected message (Tab or click to select; up/down move between messages)
    KeyAction("copy_message", "c", "copy_message", "Copy",
              "Copy the selected message.", "message", palette=False),
    KeyAction("copy_code", "k", "copy_code", "Copy code",
              "Copy the code blocks of the selected message.", "message", palette=False),
    KeyAction("message_sources", "s", "focus_sources", "Sources",
              "Move to the selected answer's sources.", "message", palette=False),
    KeyAction("previous_message", "up", "previous", "Previous", "Select the previous message.",
              "message", show=False, palette=False),
    KeyAction("next_message", "down", "next", "Next", "Select the next message.",
              "message", show=False, palette=False),
    # Sidebar
    KeyAction("sidebar_delete", "delete", "delete_conversation", "Delete",
              "Delete the highlighted conversation (asks first).", "sidebar", palette=False),
    KeyAction("sidebar_rename", "r", "rename_conversation", "Rename",
              "Rename the highlighted conversation.", "sidebar", palette=False),
    # Sources list
    KeyAction("open_passage", "enter", "open", "Open passage",
              "Open the full passage of the highlighted source, the cited part highlighted.",
              "sources", palette=False),
    # Library
    KeyAction("import_folder", "ctrl+o", "import_folder", "Import",
              "Import the folder typed in the path box (Tab completes paths).", "library"),
    KeyAction("sync_library", "ctrl+r", "sync", "Sync",
              "Re-scan every imported folder: new, changed and deleted files.", "library"),
    KeyAction("remove_selected", "delete", "remove_selected", "Remove",
              "Remove the selected document or collection from the library (asks first).",
              "library"),
    KeyAction("cancel_import", "escape", "cancel_import", "Cancel",
              "Cancel the running import or sync (what is done is kept).", "library"),
    KeyAction("refresh_library", "ctrl+l", "refresh", "Refresh",
              "Reload the lists of collections and documents.", "library", show=False),
    # Settings
    KeyAction("save_settings", "ctrl+s", "save", "Save",
              "Save the settings to config.toml and apply them.", "settings"),
    KeyAction("add_model", "ctrl+o", "add_model", "Add model",
              "Register the GGUF file typed in the model path box.", "settings"),
    KeyAction("pull_model", "ctrl+d", "pull_model", "Download",
              "Download the model selected in the catalog and switch to it.", "settings",
              show=False),
    KeyAction("cancel_pull", "escape", "cancel_pull", "Cancel download",
              "Stop the download; the part already fetched is kept for next time.",
              "settings", show=False),
    # Practice
    KeyAction("practice_start", "ctrl+n", "start_session", "Start",
              "Start a practice session with the highlighted scenario.", "practice"),
    KeyAction("practice_evaluate", "ctrl+e", "evaluate", "Evaluate",
              "Finish the session and get the coach's feedback.", "practice", priority=True),
    KeyAction("practice_ideal", "ctrl+s", "edit_ideal", "Ideal",
              "Mark or edit the ideal response of this session (used by export).",
              "practice"),
    KeyAction("practice_progress", "ctrl+g", "show_progress", "Progress",
              "Show your progress over time per criterion and category.", "practice"),
    KeyAction("practice_stop", "escape", "stop", "Stop",
              "Stop the student's reply or the evaluation being written.", "practice"),
    KeyAction("toggle_scenarios", "ctrl+b", "toggle_scenarios", "Scenarios",
              "Show or hide the scenario list (hidden at first on narrow terminals).",
              "practice", show=False),
    # Dialogs
    KeyAction("close_dialog", "escape", "close", "Close", "Close the dialog or passage view.",
              "dialog", palette=False),
)

BY_ID: dict[str, KeyAction] = {k.id: k for k in KEYS}


def bindings(scope: str) -> list[Binding]:
    """The Textual bindings of one scope, each carrying its id (so it can be remapped)."""
    return [
        Binding(k.key, k.action, k.title, show=k.show, priority=k.priority, id=k.id,
                tooltip=k.help)
        for k in KEYS
        if k.scope == scope
    ]


def keys_for(action_id: str, keymap: dict[str, str] | None = None) -> list[str]:
    """The keys in effect for an id: the remap from settings, else the default."""
    spec = BY_ID[action_id]
    raw = (keymap or {}).get(action_id, spec.key)
    return [k.strip() for k in raw.split(",") if k.strip()]


def unknown_ids(keymap: dict[str, str]) -> list[str]:
    return sorted(k for k in keymap if k not in BY_ID)


def display_key(key: str) -> str:
    """A key as a person reads it: ``ctrl+j`` -> ``Ctrl+J``, ``escape`` -> ``Esc``."""
    names = {"escape": "Esc", "enter": "Enter", "delete": "Del", "up": "↑", "down": "↓",
             "tab": "Tab", "pageup": "PgUp", "pagedown": "PgDn", "space": "Space"}
    parts = key.split("+")
    out = []
    for part in parts:
        if part in names:
            out.append(names[part])
        elif part in ("ctrl", "alt", "shift", "super"):
            out.append(part.capitalize())
        else:
            out.append(part.upper() if len(part) <= 3 else part.capitalize())
    return "+".join(out)
