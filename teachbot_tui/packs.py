"""Model packs: one GGUF file that carries what teachers need besides the weights.

``teachbot-train export`` writes into the GGUF's metadata

* ``teachbot.system_prompt``: the system prompt the model was trained with,
* ``general.description``: a short description (the standard GGUF key),
* ``teachbot.scenarios``: optionally, practice scenario files (JSON: a list of
  ``{"file": name, "text": content}``, the files exactly as written, validated first),
* ``teachbot.pack_version``: 1.

``teachbot models add pack.gguf`` (any registration, through the registry) unpacks that into
``DATA/packs/NAME/``: ``pack.json`` and ``scenarios/``. Practice mode lists those scenarios
with the source ``pack:NAME``; ``teachbot ask`` uses the pack's system prompt unless the
teacher has set their own. A GGUF without these keys is a plain model, as before.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .paths import Paths

KEY_SYSTEM_PROMPT = "teachbot.system_prompt"
KEY_SCENARIOS = "teachbot.scenarios"
KEY_VERSION = "teachbot.pack_version"
KEY_DESCRIPTION = "general.description"
PACK_VERSION = 1
#: Scenario text a pack may carry; far beyond any real bank, small beside the weights.
MAX_SCENARIO_BYTES = 4 * 2**20


class PackError(Exception):
    """A pack cannot be written or read; the message is one line naming the file."""


@dataclass(frozen=True)
class PackInfo:
    system_prompt: str | None = None
    description: str | None = None
    scenarios: list[dict[str, str]] = field(default_factory=list)

    @property
    def is_pack(self) -> bool:
        return bool(self.system_prompt or self.scenarios)

    def as_dict(self) -> dict[str, Any]:
        return {"system_prompt": self.system_prompt, "description": self.description,
                "scenarios": [s["file"] for s in self.scenarios]}


# -- reading and writing the GGUF ------------------------------------------------------------
def read_pack(path: str | Path) -> PackInfo:
    """The pack metadata of a GGUF (empty for a plain model)."""
    import struct

    from .gguf_info import metadata

    path = Path(path)
    try:
        values = metadata(path, {KEY_SYSTEM_PROMPT, KEY_DESCRIPTION, KEY_SCENARIOS})
    except (OSError, ValueError, struct.error) as exc:
        why = str(exc) if isinstance(exc, ValueError) else type(exc).__name__
        raise PackError(f"{path}: cannot read the GGUF header ({why})") from None
    scenarios: list[dict[str, str]] = []
    raw = values.get(KEY_SCENARIOS)
    if raw:
        try:
            items = json.loads(raw)
            scenarios = [{"file": str(i["file"]), "text": str(i["text"])} for i in items]
        except (ValueError, TypeError, KeyError):
            raise PackError(f"{path}: {KEY_SCENARIOS} is not a list of scenario files; "
                            "export the pack again") from None
    prompt, desc = values.get(KEY_SYSTEM_PROMPT), values.get(KEY_DESCRIPTION)
    return PackInfo(str(prompt) if prompt else None, str(desc) if desc else None, scenarios)


def collect_scenarios(folder: str | Path) -> list[dict[str, str]]:
    """The scenario files under ``folder``, each validated (the first problem is raised)."""
    from .practice.scenarios import load_files

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise PackError(f"{folder}: no such folder of scenarios")
    scenarios, problems = load_files([folder])
    if problems:
        raise PackError(f"{problems[0]}; fix the scenario before exporting")
    files = sorted({Path(s.source) for s in scenarios})
    out = [{"file": str(f.relative_to(folder)), "text": f.read_text(encoding="utf-8-sig")}
           for f in files]
    if sum(len(i["text"]) for i in out) > MAX_SCENARIO_BYTES:
        raise PackError(f"{folder}: more than {MAX_SCENARIO_BYTES // 2**20} MiB of scenarios")
    return out


def write_pack(src: str | Path, dst: str | Path, *, system_prompt: str | None = None,
               description: str | None = None,
               scenarios: list[dict[str, str]] | None = None) -> PackInfo:
    """Copy the GGUF ``src`` to ``dst`` (may be the same file) with the pack metadata set.

    The copy is written beside ``dst`` and renamed over it, so ``dst`` is never half-written.
    """
    import gguf

    src, dst = Path(src), Path(dst)
    new: dict[str, Any] = {KEY_VERSION: (PACK_VERSION, gguf.GGUFValueType.UINT32)}
    if system_prompt:
        new[KEY_SYSTEM_PROMPT] = (system_prompt, gguf.GGUFValueType.STRING)
    if description:
        new[KEY_DESCRIPTION] = (description, gguf.GGUFValueType.STRING)
    if scenarios:
        new[KEY_SCENARIOS] = (json.dumps(scenarios, ensure_ascii=False),
                              gguf.GGUFValueType.STRING)
    reader = gguf.GGUFReader(src, "r")
    arch = reader.fields["general.architecture"].contents()
    tmp = dst.with_name(f".{dst.name}.pack-tmp")
    writer = gguf.GGUFWriter(tmp, arch=arch, endianess=reader.endianess)
    try:
        for key, fld in reader.fields.items():
            if key.startswith("GGUF.") or key == "general.architecture" or key in new:
                continue
            vtype = fld.types[0]
            sub = fld.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
            writer.add_key_value(key, fld.contents(), vtype, sub_type=sub)
        for key, (val, vtype) in new.items():
            writer.add_key_value(key, val, vtype)
        for t in reader.tensors:
            writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes,
                                   t.tensor_type)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for t in reader.tensors:
            writer.write_tensor_data(t.data, tensor_endianess=reader.endianess)
        writer.close()
        del reader  # release the memory map before replacing the file it maps
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return PackInfo(system_prompt, description, scenarios or [])


def pack_export(run: str | Path, out: str | Path, description: str | None = None,
                scenarios_dir: str | Path | None = None) -> dict[str, Any]:
    """After ``teachbot-train export``: write the run's system prompt (from ``run.json``), the
    description and the scenarios into the exported GGUF."""
    prompt = None
    try:
        meta = json.loads((Path(run) / "run.json").read_text(encoding="utf-8"))
        prompt = meta.get("system_prompt") or None
    except (OSError, ValueError):
        pass
    scenarios = collect_scenarios(scenarios_dir) if scenarios_dir else []
    info = write_pack(out, out, system_prompt=prompt, description=description,
                      scenarios=scenarios)
    return info.as_dict()


# -- installed packs --------------------------------------------------------------------------
def pack_dir(paths: Paths, name: str) -> Path:
    return paths.data_dir / "packs" / name


def _safe_name(index: int, file: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file).name).strip(".-") or "scenario.yaml"
    return f"{index:02d}-{stem}"


def install(paths: Paths, name: str, gguf_path: str | Path) -> PackInfo:
    """Unpack the pack metadata of a just-registered model (clears an older one's)."""
    info = read_pack(gguf_path)
    folder = pack_dir(paths, name)
    shutil.rmtree(folder, ignore_errors=True)
    if not info.is_pack and not info.description:
        return info
    (folder / "scenarios").mkdir(parents=True, exist_ok=True)
    for i, item in enumerate(info.scenarios):
        # names come from the file: flattened, so a pack can never write outside its folder
        (folder / "scenarios" / _safe_name(i, item["file"])).write_text(item["text"],
                                                                       encoding="utf-8")
    (folder / "pack.json").write_text(json.dumps(
        {"model": name, "gguf": str(gguf_path), **info.as_dict()}, ensure_ascii=False,
        indent=2), encoding="utf-8")
    return info


def uninstall(paths: Paths, name: str) -> None:
    shutil.rmtree(pack_dir(paths, name), ignore_errors=True)


def installed(paths: Paths, name: str) -> dict[str, Any] | None:
    try:
        return json.loads((pack_dir(paths, name) / "pack.json").read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return None


def settings_for(settings: Any, model: str, paths: Paths | None = None) -> Any:
    """``settings`` with the pack's system prompt when ``model`` is a pack and the teacher has
    not set a system prompt of their own."""
    from .config import DEFAULT_SYSTEM_PROMPT

    pack = installed(paths or Paths.from_env(), model)
    prompt = (pack or {}).get("system_prompt")
    if prompt and settings.system_prompt == DEFAULT_SYSTEM_PROMPT:
        return replace(settings, system_prompt=prompt)
    return settings


def check_installed_scenarios(paths: Paths, name: str) -> tuple[int, list[str]]:
    """(valid scenarios, problems) of one installed pack: for the `models add` report."""
    from .practice.scenarios import load_files

    folder = pack_dir(paths, name) / "scenarios"
    if not folder.is_dir() or not any(folder.iterdir()):
        return 0, []
    scenarios, problems = load_files(sorted(folder.iterdir()))
    return len(scenarios), [str(p) for p in problems]
