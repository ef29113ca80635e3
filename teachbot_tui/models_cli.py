"""``teachbot models``: list, add, use, remove, and the catalog with ``pull`` (a download on
request, the app's only network use).

Registered by ``teachbot_tui.cli``. User errors print one line and exit 1
(:mod:`teachbot_tui.errors`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_common import JsonOpt, err, home_paths, load_settings, print_json

models_app = typer.Typer(
    help="List, add, choose and remove chat models (GGUF files); browse the catalog of "
    "recommended models and download one with `pull`.",
    no_args_is_help=True)

def install_model(path: Path, name: str | None, use: bool, paths: Any = None) -> Any:
    """Register a GGUF (and unpack it when it is a model pack); optionally make it the one in
    use. ``models add``, ``models pull`` and the app's Models screen all end here."""
    from . import config
    from .registry import ModelRegistry

    paths = paths or home_paths()
    entry = ModelRegistry(paths).add(path, name)
    if use:
        config.save({"chat_model": entry.name}, paths)
    return entry


def _added_line(entry: Any) -> str:
    from . import packs

    line = (f"added {entry.name}: {entry.architecture}, context {entry.context_length}"
            f"{'' if entry.has_chat_template else ', no chat template (may not chat)'}")
    pack = packs.installed(home_paths(), entry.name)
    if pack:
        from .practice.scenarios.loading import PACK_SOURCE

        n, problems = packs.check_installed_scenarios(home_paths(), entry.name)
        bits = []
        if pack.get("system_prompt"):
            bits.append("its own system prompt")
        if n:
            bits.append(f"{n} practice scenario{'s' if n != 1 else ''} "
                        f"(`teachbot practice list`, source {PACK_SOURCE}{entry.name})")
        if bits:
            line += "\nmodel pack: " + " and ".join(bits)
        if pack.get("description"):
            line += f"\n  {pack['description']}"
        for p in problems:
            line += f"\n  warning: {p}"
    return line


# -- list / add / use / remove ---------------------------------------------------------------
@models_app.command("list")
def models_list(as_json: JsonOpt = False) -> None:
    """List the registered chat models; the one in use is marked with *."""
    from .registry import ModelRegistry

    current = load_settings().chat_model
    entries = ModelRegistry(home_paths()).list()
    if as_json:
        print_json([{**e.as_dict(), "in_use": e.name == current} for e in entries])
        return
    for e in entries:
        mark = "*" if e.name == current else " "
        state = "" if e.exists else "  (file missing)"
        pack = "  [pack]" if e.is_pack else ""
        adapter = f" + adapter {e.adapter}" if e.adapter else ""
        typer.echo(f"{mark} {e.name:24} {e.architecture:8} ctx {e.context_length:<6} "
                   f"{e.path}{adapter}{state}{pack}")


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="A GGUF chat model file (or a model pack).")],
    name: Annotated[str | None, typer.Option(help="Name to register it under.")] = None,
    use: Annotated[bool, typer.Option("--use", help="Also make it the model in use.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a GGUF model after checking its header (magic, architecture, context
    length, chat template). A model pack also brings its system prompt, description and
    practice scenarios."""
    from . import packs

    entry = install_model(path, name, use)
    if as_json:
        print_json({**entry.as_dict(), "pack": packs.installed(home_paths(), entry.name)})
    else:
        typer.echo(_added_line(entry))


@models_app.command("use")
def models_use(name: Annotated[str, typer.Argument(help="A registered model name.")],
               as_json: JsonOpt = False) -> None:
    """Make a registered model the one teachbot uses (saved in config.toml)."""
    from . import config
    from .registry import ModelRegistry

    entry = ModelRegistry(home_paths()).get(name)
    config.save({"chat_model": entry.name}, home_paths())
    if as_json:
        print_json({"in_use": entry.name})
    else:
        typer.echo(f"now using {entry.name}")


@models_app.command("remove")
def models_remove(name: Annotated[str, typer.Argument(help="A registered model name.")],
                  as_json: JsonOpt = False) -> None:
    """Unregister a model (the file itself is left alone)."""
    from . import config
    from .registry import ModelRegistry

    ModelRegistry(home_paths()).remove(name)
    if load_settings().chat_model == name:
        config.save({"chat_model": "default"}, home_paths())
    if as_json:
        print_json({"removed": name})
    else:
        typer.echo(f"removed {name}")


# -- catalog ----------------------------------------------------------------------------------
@models_app.command("catalog")
def models_catalog(
    measure: Annotated[bool, typer.Option(
        "--measure", help="Measure the default model's speed again (it is cached).")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Recommended models with a verdict for this machine: memory, expected speed, licence.

    The speed is the default model's, measured here once (a few seconds, then cached), scaled
    by file size. Download one with `teachbot models pull NAME --use`.
    """
    from . import catalog

    machine = catalog.this_machine(home_paths(), load_settings().threads, remeasure=measure)
    results = catalog.fits(machine)
    best = catalog.best_fit(results)
    if as_json:
        print_json({"machine": machine.as_dict(), "best_fit": best.entry.name if best else None,
                     "models": [f.as_dict() for f in results]})
        return
    gpu = f", GPU {catalog.gib(machine.vram_bytes)}" if machine.vram_bytes else ", no GPU"
    how = "measured here" if machine.measured else "not measured: default model missing"
    typer.echo(f"This machine: {catalog.gib(machine.ram_bytes)} RAM, {machine.cpu_count} cores"
               f"{gpu}; default model {machine.prompt_tps:.0f} tokens/s reading, "
               f"{machine.decode_tps:.0f} writing ({how})")
    typer.echo(f"  {'name':14} {'params':>6} {'file':>7} {'RAM 4k':>7} {'context':>7}  "
               f"{'est. write':>10}  verdict     licence")
    for f in results:
        e = f.entry
        typer.echo(f"  {e.name:14} {e.parameters_b:5.1f}B {catalog.gib(e.file_size_bytes):>7} "
                   f"{e.ram_4k_gb:5.1f} GB {e.context_length:>7}  {f.decode_tps:6.1f} tok/s"
                   f"  {f.verdict:10}  {e.licence}")
    if best:
        typer.echo(f"Best fit: {best.entry.name} ({best.entry.title}). "
                   f"Get it with: teachbot models pull {best.entry.name} --use")
    typer.echo("Offline? Copy the .gguf file here and run `teachbot models add FILE --use`.")


# -- pull -------------------------------------------------------------------------------------
def _target(spec: str, name: str | None) -> tuple[str, str, str, str | None]:
    """(repo, file, registry name, pinned sha256) for a catalog name or REPO/FILE.gguf."""
    from . import catalog, hub

    entry = catalog.find(spec)
    if entry is not None:
        return entry.repo, entry.file, name or entry.name, entry.sha256
    split = hub.split_spec(spec)
    if split is None:
        catalog.get(spec)  # raises: unknown name, with the closest one
        raise AssertionError("unreachable")
    repo, file = split
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(file).stem).strip("-.")[:64]
    return repo, file, name or stem, None


def pull_model(spec: str, name: str | None = None, use: bool = False,
               progress: Callable[[int, int | None], None] | None = None,
               paths: Any = None) -> Any:
    """Download a catalog model or REPO/FILE.gguf and register it; return the registry entry."""
    from . import hub
    from .registry import ModelRegistry, RegistryError

    repo, file, reg_name, sha = _target(spec, name)
    paths = paths or home_paths()
    dest = paths.data_dir / "models" / repo.replace("/", "--") / Path(file).name
    registry = ModelRegistry(paths)
    try:
        existing = registry.get(reg_name)
    except RegistryError:
        existing = None
    if existing is not None:
        if existing.path == dest.resolve() and dest.exists():
            if use:
                from . import config

                config.save({"chat_model": existing.name}, paths)
            return existing
        raise RegistryError(f"a model named {reg_name!r} is already registered; pick another "
                            "--name or remove it first")
    remote = hub.remote_info(repo, file)
    path = hub.download(remote, dest, progress, sha256=sha)
    return install_model(path, reg_name, use, paths)


@models_app.command("pull")
def models_pull(
    spec: Annotated[str, typer.Argument(
        metavar="NAME|REPO/FILE.gguf",
        help="A catalog name (`teachbot models catalog`) or a Hugging Face repo and file.")],
    name: Annotated[str | None, typer.Option(help="Name to register it under.")] = None,
    use: Annotated[bool, typer.Option("--use", help="Also make it the model in use.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Download a model from Hugging Face and register it, like `models add`.

    Shows progress, resumes an interrupted download, checks free disk space first and the
    size and sha256 at the end. This is teachbot's only network use. HF_ENDPOINT selects a
    mirror; HF_TOKEN is sent for gated repositories. Without network: copy the file and run
    `teachbot models add FILE`.
    """
    try:
        if as_json or not sys.stderr.isatty():
            entry = pull_model(spec, name, use, _line_progress(spec))
        else:
            entry = _pull_with_bar(spec, name, use)
    except KeyboardInterrupt:
        err("interrupted: the partial download is kept; run the same pull again to resume "
             "(nothing was registered)")
        raise typer.Exit(130) from None
    if as_json:
        print_json({**entry.as_dict(), "in_use": use})
        return
    typer.echo(_added_line(entry).replace("added", "pulled", 1)
               + (f"\nnow using {entry.name}" if use else
                  f"\nuse it: teachbot models use {entry.name}"))


def _line_progress(label: str) -> Callable[[int, int | None], None]:
    """Progress as occasional lines on stderr (no terminal): every 10%."""
    state = {"next": 0}

    def report(done: int, total: int | None) -> None:
        if not total:
            return
        pct = int(done * 100 / total)
        if pct >= state["next"]:
            size = f"{total / 1e9:.2f} GB" if total >= 1e9 else f"{total / 1e6:.1f} MB"
            err(f"{label}: {pct}% of {size}")
            state["next"] = pct // 10 * 10 + 10

    return report


def _pull_with_bar(spec: str, name: str | None, use: bool) -> Any:
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                  TransferSpeedColumn(), TimeRemainingColumn(), transient=True) as bar:
        task = bar.add_task(f"pulling {spec}", total=None)

        def report(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        return pull_model(spec, name, use, report)
