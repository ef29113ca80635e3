"""A stand-in for the Hugging Face Hub on 127.0.0.1, for the download tests (HF_ENDPOINT).

It answers the routes ``huggingface_hub`` uses to fetch a file, with the headers it needs:

* ``HEAD /{repo}/resolve/{revision}/{file}``: ``X-Repo-Commit``, ``ETag`` and
  ``X-Linked-Etag`` (the sha256 of an LFS file, quoted), ``X-Linked-Size``, ``Content-Length``;
* ``GET`` of the same path, honouring ``Range: bytes=N-`` with ``206`` and ``Content-Range``;
* ``GET /api/models/{repo}/revision/{revision}``: the repo's files (``siblings``) with sizes
  and LFS sha256, as ``HfApi.model_info(files_metadata=True)`` reads them.

Knobs: ``corrupt`` flips one byte of what is sent (the advertised sha256 stays right);
``chunk_delay`` slows the body down so a test can interrupt it. ``ranges`` records every Range
header received.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@dataclass
class HubFile:
    data: bytes
    sha256: str = ""

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()


@dataclass
class FakeHub:
    files: dict[tuple[str, str], HubFile] = field(default_factory=dict)
    corrupt: bool = False
    chunk_delay: float = 0.0
    chunk_size: int = 1 << 20
    ranges: list[str | None] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def add(self, repo: str, name: str, data: bytes | Path) -> HubFile:
        f = HubFile(data if isinstance(data, bytes) else Path(data).read_bytes())
        self.files[(repo, name)] = f
        return f

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeHub:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                return None

            def _lookup(self) -> tuple[str, str, HubFile] | None:
                path = unquote(self.path.split("?")[0]).lstrip("/")
                parts = path.split("/")
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo, name = "/".join(parts[:2]), "/".join(parts[4:])
                    f = hub.files.get((repo, name))
                    if f is not None:
                        return repo, name, f
                return None

            def _headers(self, f: HubFile, length: int, status: int,
                         extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("ETag", f'"{f.sha256}"')
                self.send_header("X-Linked-Etag", f'"{f.sha256}"')
                self.send_header("X-Linked-Size", str(len(f.data)))
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(length))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()

            def _not_found(self) -> None:
                body = b'{"error":"Entry not found"}'
                self.send_response(404)
                self.send_header("X-Error-Code", "EntryNotFound")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def do_HEAD(self) -> None:  # noqa: N802 - http.server's naming
                hub.requests.append(f"HEAD {self.path}")
                found = self._lookup()
                if found is None:
                    self._not_found()
                    return
                self._headers(found[2], len(found[2].data), 200)

            def do_GET(self) -> None:  # noqa: N802
                hub.requests.append(f"GET {self.path}")
                if self.path.startswith("/api/models/"):
                    self._model_info()
                    return
                found = self._lookup()
                if found is None:
                    self._not_found()
                    return
                f = found[2]
                data = bytearray(f.data)
                if hub.corrupt:
                    data[len(data) // 2] ^= 0xFF
                rng = self.headers.get("Range")
                hub.ranges.append(rng)
                start = 0
                if rng and rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[len("bytes="):-1])
                body = bytes(data[start:])
                if start:
                    self._headers(f, len(body), 206, {
                        "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
                else:
                    self._headers(f, len(body), 200)
                import time

                try:
                    for i in range(0, len(body), hub.chunk_size):
                        self.wfile.write(body[i:i + hub.chunk_size])
                        self.wfile.flush()
                        if hub.chunk_delay:
                            time.sleep(hub.chunk_delay)
                except (BrokenPipeError, ConnectionResetError):
                    return

            def _model_info(self) -> None:
                rest = unquote(self.path.split("?")[0])[len("/api/models/"):]
                repo = "/".join(rest.split("/")[:2])
                siblings = [
                    {"rfilename": name, "size": len(f.data),
                     "lfs": {"sha256": f.sha256, "size": len(f.data), "pointerSize": 134},
                     "blobId": f.sha256[:40]}
                    for (r, name), f in hub.files.items() if r == repo
                ]
                if not siblings:
                    self._not_found()
                    return
                body = json.dumps({"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                                   "siblings": siblings}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Repo-Commit", COMMIT)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: object, client_address: object) -> None:
                return None  # a client that hangs up mid-body (the interruption tests)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


if __name__ == "__main__":  # a manual stand-in: python tests/models_hub_server.py REPO FILE PATH
    import sys
    import time

    hub = FakeHub(chunk_delay=float(sys.argv[4]) if len(sys.argv) > 4 else 0.0,
                  chunk_size=1 << 18)
    hub.add(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
    hub.start()
    print(hub.url, flush=True)
    while True:
        time.sleep(3600)


REPO = "bartowski/Llama-3.2-1B-Instruct-GGUF"  # the catalog's llama-3.2-1b
FILE = "Llama-3.2-1B-Instruct-Q4_K_M.gguf"


def tiny_gguf(path: Path, n_floats: int = 64 * 1024) -> Path:
    """A small real GGUF (llama architecture, one tensor) that the registry accepts."""
    import gguf
    import numpy as np

    w = gguf.GGUFWriter(path, arch="llama")
    w.add_context_length(2048)
    w.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    w.add_tensor("token_embd.weight", np.arange(n_floats, dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path
