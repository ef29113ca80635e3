"""Keep llama.cpp's own GGUF converter, at the version of the installed llama-cpp-python.

    .venv/bin/python scripts/fetch_converter.py              # fetch the sdist if needed
    .venv/bin/python scripts/fetch_converter.py --sdist F    # take the files from this sdist
    .venv/bin/python scripts/fetch_converter.py --check      # exit 1 when it is missing

``--prefix DIR`` puts the files under another environment's prefix (default: this venv's);
``--json`` prints one JSON object as the last line: ``version``, ``path``, ``files`` (how many
were copied, 0 when kept) and ``kept`` (an existing, complete copy was kept).

llama-cpp-python's source distribution carries llama.cpp's ``convert_hf_to_gguf.py``, its
``conversion/`` package, ``convert_lora_to_gguf.py`` and ``gguf-py`` under ``vendor/llama.cpp/``:
exactly the converter of the runtime that will load the files. ``teachbot-train export`` runs
them from ``<venv>/share/teachbot/llama.cpp-<version>/`` (see trainer/convert.py). When pip
installed llama-cpp-python from its cache, the sdist is fetched again with
``pip download --no-binary :all:`` (the same file pip built the wheel from).

Run it with the venv's Python (``sys.prefix`` decides where the files go). Idempotent: an
existing, complete copy is kept.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

PACKAGE = "llama-cpp-python"
#: What is kept from ``vendor/llama.cpp/`` (files, or folders kept whole).
KEEP = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "conversion", "gguf-py",
        "LICENSE", "requirements")
MARKER = ".complete"


def converter_dir(version: str, prefix: str | Path = sys.prefix) -> Path:
    """Where the converter of llama-cpp-python ``version`` lives in the venv at ``prefix``."""
    return Path(prefix) / "share" / "teachbot" / f"llama.cpp-{version}"


def installed_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise SystemExit(f"fetch_converter: {PACKAGE} is not installed in {sys.prefix}; "
                         "run scripts/setup.sh first") from None


def download_sdist(version: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check",
           "--no-deps", "--no-binary", ":all:", f"{PACKAGE}=={version}", "-d", str(dest)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob("llama_cpp_python-*.tar.gz"))
    if proc.returncode != 0 or not found:
        last = (proc.stderr.strip().splitlines() or ["no sdist downloaded"])[-1]
        raise SystemExit(f"fetch_converter: pip could not fetch the {PACKAGE}=={version} "
                         f"source distribution ({last}); pass --sdist FILE")
    return found[0]


def extract(sdist: Path, version: str, target: Path) -> int:
    """Copy the converter files out of ``sdist`` into ``target``; return how many files."""
    prefix = f"llama_cpp_python-{version}/vendor/llama.cpp/"
    count = 0
    with tarfile.open(sdist) as tar:
        members = []
        for m in tar.getmembers():
            if not m.name.startswith(prefix) or not m.isfile():
                continue
            rel = m.name[len(prefix):]
            if rel.split("/", 1)[0] not in KEEP or "/tests/" in f"/{rel}":
                continue
            m.name = rel
            members.append(m)
        if not any(m.name == "convert_hf_to_gguf.py" for m in members):
            raise SystemExit(f"fetch_converter: {sdist} has no {prefix}convert_hf_to_gguf.py; "
                             f"is it the {PACKAGE} {version} source distribution?")
        tar.extractall(target, members=members, filter="data")
        count = len(members)
    return count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sdist", type=Path, help="the llama-cpp-python .tar.gz to take the files from")
    parser.add_argument("--check", action="store_true", help="only say whether it is there (exit 1 if not)")
    parser.add_argument("--force", action="store_true", help="replace an existing copy")
    parser.add_argument("--prefix", type=Path, default=Path(sys.prefix),
                        help="the environment prefix to keep the files under (default: this venv)")
    parser.add_argument("--json", action="store_true", help="print a JSON summary as the last line")
    args = parser.parse_args()

    version = installed_version()
    dest = converter_dir(version, args.prefix)

    def done(files: int, kept: bool) -> None:
        if args.json:
            print(json.dumps({"version": version, "path": str(dest), "files": files,
                              "kept": kept}))

    if (dest / MARKER).is_file() and not args.force:
        print(f"fetch_converter: llama.cpp converter {version} is in {dest}", file=sys.stderr)
        done(0, True)
        return
    if args.check:
        print(f"fetch_converter: no llama.cpp converter for {PACKAGE} {version} in {dest}",
              file=sys.stderr)
        raise SystemExit(1)
    if args.sdist is not None and not args.sdist.is_file():
        raise SystemExit(f"fetch_converter: {args.sdist}: no such file; pass the "
                         f"{PACKAGE} {version} source distribution (.tar.gz)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".fetch-") as tmp:
        sdist = args.sdist or download_sdist(version, Path(tmp) / "sdist")
        staged = Path(tmp) / "converter"
        try:
            n = extract(sdist, version, staged)
        except (tarfile.TarError, OSError) as exc:
            reason = (str(exc).splitlines() or [type(exc).__name__])[0]
            raise SystemExit(f"fetch_converter: {sdist}: not a readable .tar.gz ({reason}); "
                             f"pass the {PACKAGE} {version} source distribution") from None
        (staged / MARKER).write_text(f"{PACKAGE}=={version}\n{sdist.name}\n", encoding="utf-8")
        if dest.exists():
            shutil.rmtree(dest)
        staged.rename(dest)
    print(f"fetch_converter: llama.cpp converter {version} ({n} files) in {dest}", file=sys.stderr)
    done(n, False)


if __name__ == "__main__":
    main()
