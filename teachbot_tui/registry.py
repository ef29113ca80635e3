"""The model registry: named GGUF chat models that ``teachbot`` can load.

The bundled SmolLM2 is always listed twice: as ``default``, with the LoRA adapter teachbot
ships for its main job (answers that state and cite the passages, docs/training.md), and as
``default-base``, the untuned model. ``teachbot models add`` and ``teachbot-train install``
both go through :meth:`ModelRegistry.add`, which validates the file's GGUF header first, so a
bad file never enters the registry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import db, defaults
from .gguf_info import GGUFError, read_info
from .paths import Paths

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class RegistryError(Exception):
    """A registry operation cannot be done; the message is one line saying what to do."""


@dataclass(frozen=True)
class ModelEntry:
    name: str
    path: Path
    architecture: str
    context_length: int
    has_chat_template: bool
    size_bytes: int
    builtin: bool = False
    # model packs (teachbot_tui/packs.py): the description and whether it carries a pack
    description: str | None = None
    is_pack: bool = False
    adapter: Path | None = None
    """A LoRA adapter GGUF that llama.cpp applies on top of ``path``."""

    @property
    def exists(self) -> bool:
        return self.path.exists()

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "path": str(self.path),
            "architecture": self.architecture,
            "context_length": self.context_length,
            "has_chat_template": self.has_chat_template,
            "size_bytes": self.size_bytes,
            "builtin": self.builtin,
            "adapter": str(self.adapter) if self.adapter else None,
            "exists": self.exists,
            "description": self.description,
            "is_pack": self.is_pack,
        }


class ModelRegistry:
    def __init__(self, paths: Paths | None = None) -> None:
        self.paths = paths or Paths.from_env()

    def _con(self):  # type: ignore[no-untyped-def]
        return db.connect(self.paths.app_db)

    def default_entry(self, tuned: bool = True) -> ModelEntry:
        """The bundled SmolLM2: ``default`` (with the shipped LoRA adapter) or, with
        ``tuned=False``, ``default-base``."""
        located = defaults.chat_model()
        path = located.path or Path(defaults.CHAT_FILE)
        adapter = defaults.chat_adapter() if tuned else None
        size = path.stat().st_size if located.exists else 0
        return ModelEntry(
            name=defaults.CHAT_NAME if tuned else defaults.BASE_NAME,
            path=path,
            architecture="llama",
            context_length=8192,
            has_chat_template=True,
            size_bytes=size + (adapter.stat().st_size if adapter else 0),
            builtin=True,
            adapter=adapter,
        )

    def list(self) -> list[ModelEntry]:
        con = self._con()
        try:
            rows = con.execute("SELECT * FROM models ORDER BY name").fetchall()
        finally:
            con.close()
        from . import packs

        entries = [self.default_entry(), self.default_entry(tuned=False)]
        for r in rows:
            pack = packs.installed(self.paths, r["name"]) or {}
            entries.append(ModelEntry(
                name=r["name"],
                path=Path(r["path"]),
                architecture=r["architecture"],
                context_length=r["context_length"],
                has_chat_template=bool(r["has_chat_template"]),
                size_bytes=r["size_bytes"],
                description=pack.get("description"),
                is_pack=bool(pack.get("system_prompt") or pack.get("scenarios")),
            ))
        return entries

    def get(self, name: str) -> ModelEntry:
        for entry in self.list():
            if entry.name == name:
                return entry
        known = ", ".join(e.name for e in self.list())
        raise RegistryError(f"no model named {name!r}; known models: {known}")

    def add(self, path: str | Path, name: str | None = None, replace: bool = False) -> ModelEntry:
        try:
            info = read_info(path)
        except GGUFError as exc:
            raise RegistryError(str(exc)) from None
        name = name or re.sub(r"[^A-Za-z0-9._-]+", "-", info.path.stem).strip("-.")[:64]
        if not NAME_RE.match(name):
            raise RegistryError(
                f"invalid model name {name!r}: use letters, digits, '.', '_' or '-'"
            )
        if name in (defaults.CHAT_NAME, defaults.BASE_NAME):
            raise RegistryError(f"the name {name!r} is reserved for the bundled model")
        con = self._con()
        try:
            with con:
                exists = con.execute("SELECT 1 FROM models WHERE name=?", (name,)).fetchone()
                if exists and not replace:
                    raise RegistryError(
                        f"a model named {name!r} is already registered; pick another --name "
                        f"or remove it first"
                    )
                con.execute(
                    "INSERT OR REPLACE INTO models(name, path, architecture, context_length,"
                    " has_chat_template, size_bytes) VALUES (?,?,?,?,?,?)",
                    (name, str(info.path), info.architecture, info.context_length,
                     int(info.chat_template is not None), info.size_bytes),
                )
        finally:
            con.close()
        self._install_pack(name, info.path)
        return self.get(name)

    def _install_pack(self, name: str, path: Path) -> None:
        """Unpack a model pack's system prompt, description and scenarios (packs.py); a
        pack that cannot be unpacked is not registered either."""
        from . import packs

        try:
            packs.install(self.paths, name, path)
        except (packs.PackError, OSError) as exc:
            con = self._con()
            try:
                with con:
                    con.execute("DELETE FROM models WHERE name=?", (name,))
            finally:
                con.close()
            packs.uninstall(self.paths, name)
            raise RegistryError(f"{path}: model pack not installed ({exc})") from None

    def remove(self, name: str) -> None:
        if name in (defaults.CHAT_NAME, defaults.BASE_NAME):
            raise RegistryError(f"the bundled model {name!r} cannot be removed")
        con = self._con()
        try:
            with con:
                cur = con.execute("DELETE FROM models WHERE name=?", (name,))
        finally:
            con.close()
        if cur.rowcount == 0:
            raise RegistryError(f"no model named {name!r}; see `teachbot models list`")
        from . import packs

        packs.uninstall(self.paths, name)
