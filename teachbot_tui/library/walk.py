"""Finding the files to import: a safe walk of folders, with one-line reasons for what fails.

Hidden files and folders and Office lock files (``~$...``) are skipped; a folder linked back to
one already scanned is reported once, not walked forever; a folder link that leads outside the
imported folder is reported and not followed; pipes and devices are never read.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path


def category_of(root: Path, path: Path, collection: str) -> str:
    """The first folder under the root, or the collection for files directly in it."""
    try:
        rel = path.relative_to(root)
    except ValueError:
        return collection
    return rel.parts[0] if len(rel.parts) > 1 else collection


def os_reason(exc: OSError) -> str:
    """A failure reason ("reason: what to do") for an OSError met while walking or reading."""
    if exc.errno == errno.ENOENT:
        return "vanished: the file disappeared during the import"
    if exc.errno == errno.ELOOP:
        return "symlink-loop: the path is a symbolic link loop"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "unreadable: permission denied; check the file's permissions"
    return f"unreadable: {exc.strerror}"


def walk(root: Path, suffixes: Iterable[str]) -> Iterator[tuple[Path, str | None]]:
    """Files under root with a supported suffix (hidden files and folders skipped), plus
    (path, reason) for what cannot be walked."""
    try:
        st = root.stat()
    except OSError as exc:
        yield root, os_reason(exc)
        return
    if not os.path.isdir(root):
        if not stat.S_ISREG(st.st_mode):
            yield root, "unreadable: not a regular file (a pipe or device)"
        elif root.suffix.lower() in suffixes:
            yield root, None
        else:
            yield root, f"unsupported: {root.suffix or 'no extension'} files cannot be imported"
        return
    seen_dirs = {(st.st_dev, st.st_ino)}
    real_root = os.path.realpath(root)
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            yield folder, os_reason(exc)
            continue
        for entry in entries:
            if entry.name.startswith((".", "~$")):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=True):
                    if entry.is_symlink() and not _inside(os.path.realpath(path), real_root):
                        yield path, ("symlink-outside: this folder link leads outside the "
                                     "imported folder; import its target folder itself")
                        continue
                    info = entry.stat(follow_symlinks=True)
                    key = (info.st_dev, info.st_ino)
                    if key in seen_dirs:
                        yield path, "symlink-loop: this folder links back to one already scanned"
                        continue
                    seen_dirs.add(key)
                    stack.append(path)
                    continue
            except OSError as exc:
                yield path, os_reason(exc)
                continue
            if path.suffix.lower() not in suffixes:
                continue
            try:
                info = path.stat()
            except OSError as exc:
                yield path, os_reason(exc)
                continue
            if not stat.S_ISREG(info.st_mode):  # a pipe or device would block a read
                yield path, "unreadable: not a regular file (a pipe or device)"
                continue
            yield path, None


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)
