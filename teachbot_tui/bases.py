"""Base weights for ``teachbot-train --base``: catalog names and Hub repo ids, fetched on request.

``resolve(BASE)`` turns what the person typed into a local path the trainer can load:

* ``default``, an existing folder or ``.gguf`` file: unchanged;
* a catalog name (``teachbot models catalog``): that entry's ``base_model`` repo;
* ``owner/name``: that Hugging Face repo.

A repo is downloaded once into ``DATA/bases/owner--name/`` (the files transformers needs:
config, tokenizer, safetensors weights, chat template), each file resumable and checked against
the Hub's size and sha256 like ``teachbot models pull``. A finished folder is marked complete
and used from then on without the network.
"""

from __future__ import annotations

import fnmatch
import json
import time
from collections.abc import Callable
from pathlib import Path

from . import catalog, hub
from .paths import Paths

#: The files a transformers model folder needs; weights as safetensors only.
WANTED = ("*.json", "*.safetensors", "tokenizer.model", "*.tiktoken", "*.jinja", "merges.txt",
          "vocab.txt")
SKIPPED_DIRS = ("original/", "onnx/", "openvino/", "gguf/")
COMPLETE = ".teachbot-complete.json"

Say = Callable[[str], None]


def base_folder(paths: Paths, repo: str) -> Path:
    return paths.data_dir / "bases" / repo.replace("/", "--")


def repo_for(base: str) -> str | None:
    """The Hub repo a ``--base`` value names, or None when it is not a repo or catalog name."""
    entry = catalog.find(base)
    if entry is not None:
        return entry.base_model
    if hub.REPO_RE.match(base) and not base.endswith(".gguf"):
        return base
    return None


def resolve(base: str, paths: Paths | None = None, say: Say | None = None,
            progress: hub.Progress | None = None, download: bool = True) -> str:
    """A local path for ``base`` (downloading a Hub base on request), or ``base`` unchanged.

    ``download=False`` (the other ranks of a distributed run) waits for the folder that rank 0
    is downloading instead of fetching it too.
    """
    if base == "default" or Path(base).expanduser().exists():
        return base
    repo = repo_for(base)
    if repo is None:
        return base  # the trainer says what is wrong with it
    paths = paths or Paths.from_env()
    folder = base_folder(paths, repo)
    if (folder / COMPLETE).is_file():
        return str(folder)  # downloaded before: offline from now on
    if not download:
        while not (folder / COMPLETE).is_file():  # torchrun stops this rank if rank 0 fails
            time.sleep(2)
        return str(folder)
    fetch(repo, folder, say or (lambda _m: None), progress)
    return str(folder)


def wanted(name: str) -> bool:
    if any(name.startswith(d) for d in SKIPPED_DIRS):
        return False
    return any(fnmatch.fnmatch(Path(name).name, pattern) for pattern in WANTED)


def fetch(repo: str, folder: Path, say: Say, progress: hub.Progress | None = None) -> None:
    """Download the wanted files of ``repo`` into ``folder``; mark it complete at the end."""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    say(f"downloading base weights {repo} from {hub.endpoint()} into {folder}")
    try:
        with hub.online():
            info = HfApi(endpoint=hub.endpoint()).model_info(repo, timeout=15)
    except HfHubHTTPError as exc:
        raise hub.HubError(hub._http_message(exc, repo, "")) from None
    except Exception as exc:
        if hub._network_error(exc):
            raise hub.NoNetworkError(
                f"cannot reach {hub.endpoint()} (no network?); copy a Hugging Face model folder "
                "onto this machine and give its path to --base") from None
        raise
    names = sorted(s.rfilename for s in (info.siblings or []) if wanted(s.rfilename))
    if not any(n.endswith(".safetensors") for n in names):
        raise hub.HubError(f"{repo}: no safetensors weights on the Hub; give a Hugging Face "
                           "folder or a .gguf file to --base")
    remotes = [hub.remote_info(repo, name, info.sha or "main") for name in names]
    missing = sum((r.size or 0) for r in remotes
                  if not ((folder / r.file).is_file()
                          and (folder / r.file).stat().st_size == r.size))
    free = hub.free_bytes(folder)
    if free < missing + hub.DISK_MARGIN_BYTES:
        raise hub.DiskSpaceError(
            f"not enough disk space in {folder.parent}: {repo} needs {missing / 1e9:.2f} GB "
            f"and {free / 1e9:.2f} GB is free; free some space and try again")
    for i, remote in enumerate(remotes, 1):
        size = f" ({remote.size / 1e9:.2f} GB)" if remote.size else ""
        say(f"  [{i}/{len(remotes)}] {remote.file}{size}")
        hub.download(remote, folder / remote.file, progress)
    (folder / COMPLETE).write_text(json.dumps({"repo": repo, "commit": info.sha,
                                               "files": names}), encoding="utf-8")
