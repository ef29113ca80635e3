"""Where teachbot keeps things: one place for every path.

``TEACHBOT_HOME=DIR`` puts config, data and cache under DIR (tests and scripts use it);
otherwise platformdirs picks the user's standard directories.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

APP_NAME = "teachbot"


@dataclass(frozen=True)
class Paths:
    config_dir: Path
    data_dir: Path
    cache_dir: Path

    @classmethod
    def from_env(cls) -> Paths:
        home = os.environ.get("TEACHBOT_HOME")
        if home:
            root = Path(home).expanduser().resolve()
            return cls(root / "config", root / "data", root / "cache")
        import platformdirs

        return cls(
            Path(platformdirs.user_config_dir(APP_NAME)),
            Path(platformdirs.user_data_dir(APP_NAME)),
            Path(platformdirs.user_cache_dir(APP_NAME)),
        )

    @property
    def config_file(self) -> Path:
        return self.config_dir / "config.toml"

    @property
    def app_db(self) -> Path:
        """SQLite for conversations, practice results and the model registry."""
        return self.data_dir / "teachbot.db"

    @property
    def library_dir(self) -> Path:
        """SQLite + hnswlib files of the document library."""
        return self.data_dir / "library"

    @property
    def embedding_cache(self) -> Path:
        return self.cache_dir / "embeddings.db"

    def ensure(self) -> Paths:
        for d in (self.config_dir, self.data_dir, self.cache_dir):
            d.mkdir(parents=True, exist_ok=True)
        return self
