"""Downloads from the Hugging Face Hub, on request only: ``teachbot models pull`` and
``teachbot-train --base`` with a Hub id. This is the app's only network use.

A pull asks the Hub for the file's size, sha256 (its LFS metadata) and commit, checks the free
disk space, then streams the file into ``NAME.<sha>.incomplete`` beside its destination with
``huggingface_hub.file_download.http_get`` (Range requests resume it). The partial file stays
when the download is interrupted (Ctrl+C, a dropped connection, kill -9): the next pull of the
same file resumes it. When all bytes are there, the size and sha256 are checked; a mismatch
deletes the partial file. Only then is the file renamed into place.

``HF_ENDPOINT`` points the download at a mirror (the tests use a stand-in server on
127.0.0.1); ``HF_TOKEN`` is sent for gated repositories.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Room kept free beyond the file itself, so a download never fills the disk to the brim.
DISK_MARGIN_BYTES = 200 * 2**20
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
REPO_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
NO_NETWORK = "copy the file onto this machine and run `teachbot models add FILE`"

Progress = Callable[[int, int | None], None]
"""``(bytes_done, bytes_total)``, called as bytes arrive and while checking."""


class HubError(Exception):
    """A download cannot be done; the message is one line saying what to do."""


class NoNetworkError(HubError):
    pass


class DiskSpaceError(HubError):
    pass


class ChecksumError(HubError):
    pass


@dataclass(frozen=True)
class Remote:
    repo: str
    file: str
    revision: str
    commit: str
    size: int | None
    sha256: str | None
    url: str


def endpoint() -> str:
    """The Hub endpoint: HF_ENDPOINT, read now (huggingface_hub reads it once at import)."""
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def free_bytes(folder: Path) -> int:
    """Free space on the disk holding ``folder`` (its nearest existing parent)."""
    for path in (folder, *folder.parents):
        if path.exists():
            return shutil.disk_usage(path).free
    return shutil.disk_usage("/").free


@contextlib.contextmanager
def online() -> Iterator[None]:
    """Let huggingface_hub make requests for the duration (teachbot keeps it offline otherwise).

    Its agent-detection registry (fetched from the Hub when headers are first built) is set to
    empty, so the only requests are the ones for the file itself.
    """
    from huggingface_hub import constants

    with contextlib.suppress(ImportError, AttributeError):
        from huggingface_hub.utils import _detect_agent

        if _detect_agent._registry is None:
            _detect_agent._registry = _detect_agent._EMPTY_REGISTRY
    saved = constants.HF_HUB_OFFLINE
    constants.HF_HUB_OFFLINE = False
    try:
        yield
    finally:
        constants.HF_HUB_OFFLINE = saved


def _network_error(exc: BaseException) -> bool:
    """A connection that could not be made or was lost (httpx2 in huggingface_hub 2.x)."""
    import importlib

    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    for name in ("httpx2", "httpx"):
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        if isinstance(exc, (mod.ConnectError, mod.TimeoutException, mod.RemoteProtocolError,
                            mod.NetworkError)):
            return True
    return False


def _http_message(exc: Any, repo: str, file: str) -> str:
    status = getattr(getattr(exc, "response", None), "status_code", None)
    if status in (401, 403):
        return (f"{repo}: the Hub refused access (HTTP {status}); accept the model's licence on "
                "its Hub page and set HF_TOKEN, or copy the file and run `teachbot models add FILE`")
    if status == 404:
        return f"{repo}/{file}: not found on the Hub; check the repository and file name"
    return f"{repo}/{file}: the Hub answered HTTP {status}; try again later, or {NO_NETWORK}"


def remote_info(repo: str, file: str, revision: str = "main") -> Remote:
    """Ask the Hub (one HEAD request) for the file's size, sha256 and commit."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    url = hf_hub_url(repo, file, revision=revision, endpoint=endpoint())
    try:
        with online():
            meta = get_hf_file_metadata(url, timeout=15, endpoint=endpoint())
    except HfHubHTTPError as exc:
        raise HubError(_http_message(exc, repo, file)) from None
    except Exception as exc:
        if _network_error(exc):
            raise NoNetworkError(f"cannot reach {endpoint()} (no network?); {NO_NETWORK}") from None
        raise
    if not meta.commit_hash:
        raise HubError(f"{endpoint()} does not answer like the Hugging Face Hub "
                       "(no X-Repo-Commit); check HF_ENDPOINT")
    etag = (meta.etag or "").lower()
    return Remote(repo, file, revision, meta.commit_hash, meta.size,
                  etag if SHA256_RE.match(etag) else None, meta.location or url)


def partial_path(dest: Path, remote: Remote) -> Path:
    tag = (remote.sha256 or remote.commit)[:16]
    return dest.with_name(f"{dest.name}.{tag}.incomplete")


def stale_partials(dest: Path, keep: Path | None = None) -> list[Path]:
    return [p for p in dest.parent.glob(f"{dest.name}.*.incomplete") if p != keep]


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size
    done = 0
    with path.open("rb") as fh:
        while chunk := fh.read(8 * 2**20):
            digest.update(chunk)
            done += len(chunk)
            if progress:
                progress(done, total)
    return digest.hexdigest()


class _Bar:
    """A tqdm stand-in that forwards huggingface_hub's progress to a callback."""

    def __init__(self, progress: Progress | None, total: int | None, initial: int) -> None:
        self.progress = progress
        self.total = total
        self.n = initial

    def __call__(self, *args: Any, **kwargs: Any) -> _Bar:
        self.total = kwargs.get("total") or self.total
        self.n = kwargs.get("initial", self.n) or self.n
        return self

    def __enter__(self) -> _Bar:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.progress:
            self.progress(self.n, self.total)

    def close(self) -> None:
        return None


def download(remote: Remote, dest: Path, progress: Progress | None = None,
             sha256: str | None = None) -> Path:
    """Fetch ``remote`` to ``dest`` (resuming a partial file), check it, rename it into place.

    ``sha256`` pins the expected checksum (a catalog entry's); otherwise the Hub's is used.
    """
    from huggingface_hub.errors import HfHubHTTPError
    from huggingface_hub.file_download import http_get

    dest = Path(dest)
    expected_sha = (sha256 or remote.sha256 or "").lower() or None
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = partial_path(dest, remote)
    if dest.exists() and remote.size is not None and dest.stat().st_size == remote.size and (
            expected_sha is None or sha256_file(dest, progress) == expected_sha):
        return dest  # pulled before: nothing to fetch
    for old in stale_partials(dest, keep=part):  # another revision's leftovers
        old.unlink(missing_ok=True)
    have = part.stat().st_size if part.exists() else 0
    if remote.size is not None and have > remote.size:
        part.unlink()
        have = 0
    if remote.size is not None:
        need = remote.size - have + DISK_MARGIN_BYTES
        free = free_bytes(dest.parent)
        if free < need:
            raise DiskSpaceError(
                f"not enough disk space in {dest.parent}: {remote.file} needs "
                f"{(remote.size - have) / 1e9:.2f} GB more and {free / 1e9:.2f} GB is free; "
                "free some space and pull again")
    bar = _Bar(progress, remote.size, have)
    if progress:
        progress(have, remote.size)
    if remote.size is None or have < remote.size:
        try:
            with online(), part.open("ab") as fh:
                http_get(remote.url, fh, resume_size=have, expected_size=remote.size,
                         displayed_filename=remote.file, tqdm_class=bar,  # type: ignore[arg-type]
                         headers=_headers(remote.url))
        except HfHubHTTPError as exc:
            raise HubError(_http_message(exc, remote.repo, remote.file)) from None
        except OSError as exc:
            if "Consistency check failed" in str(exc):
                raise HubError(f"{remote.file}: the download ended early; pull again to "
                               "resume it") from None
            if _network_error(exc):
                raise NoNetworkError(f"the connection to {endpoint()} was lost; pull again to "
                                     f"resume, or {NO_NETWORK}") from None
            raise
        except Exception as exc:
            if _network_error(exc):
                raise NoNetworkError(f"the connection to {endpoint()} was lost; pull again to "
                                     f"resume, or {NO_NETWORK}") from None
            raise
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        part.unlink(missing_ok=True)
        raise ChecksumError(f"{remote.file}: got {size} bytes, the Hub says {remote.size}; "
                            "the partial file was deleted, pull again")
    if expected_sha is not None:
        actual = sha256_file(part, progress)
        if actual != expected_sha:
            part.unlink(missing_ok=True)
            raise ChecksumError(f"{remote.file}: checksum mismatch (sha256 {actual[:12]}…, "
                                f"expected {expected_sha[:12]}…); the partial file was deleted, "
                                "pull again")
    os.replace(part, dest)
    return dest


def _headers(url: str) -> dict[str, str]:
    """The Hub's headers (the token, when there is one), without the token for a CDN the Hub
    redirected to: a signed URL needs none, and the token stays with the Hub."""
    from urllib.parse import urlsplit

    from huggingface_hub.utils import build_hf_headers

    headers = build_hf_headers()
    headers["Accept-Encoding"] = "identity"
    if urlsplit(url).netloc != urlsplit(endpoint()).netloc:
        headers.pop("authorization", None)
    return headers


def split_spec(spec: str) -> tuple[str, str] | None:
    """``owner/repo/FILE.gguf`` -> (``owner/repo``, ``FILE.gguf``); None when it is not one."""
    parts = spec.strip().split("/")
    if len(parts) >= 3 and parts[-1].endswith(".gguf"):
        repo = "/".join(parts[:2])
        if REPO_RE.match(repo):
            return repo, "/".join(parts[2:])
    return None
