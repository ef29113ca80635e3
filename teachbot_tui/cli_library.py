"""``teachbot import``, ``teachbot search`` and ``teachbot library ...``: the document library
from the command line, a thin layer over :class:`~teachbot_tui.library.Library`."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from .cli_common import JsonOpt, open_library, out, print_json

PASSAGES_PER_DOCUMENT = 3  # best passages shown with each document of --per-document

library_app = typer.Typer(help="Inspect and maintain the document library.",
                          no_args_is_help=True)


def _print_report(report: Any, as_json: bool) -> None:
    if as_json:
        print_json(report.as_dict())
        return
    typer.echo(
        f"imported {report.added}, updated {report.updated}, unchanged {report.unchanged}, "
        f"moved {report.moved}, removed {report.removed}, failed {len(report.failed)} "
        f"({report.chunks_added} new passages, {report.seconds:.1f} s)"
    )
    for f in report.failed:
        out(f"  failed: {f.path}: {f.reason}\n")


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
    lib = open_library()
    try:
        _run_import(lambda cb: lib.import_paths(paths, collection, progress=cb), as_json)
    finally:
        lib.close()


@library_app.command("sync")
def library_sync(as_json: JsonOpt = False) -> None:
    """Re-scan every imported folder and bring the library up to date."""
    lib = open_library()
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

    lib = open_library()
    try:
        cols = lib.collections()
        docs = lib.documents(collection)
    finally:
        lib.close()
    if as_json:
        print_json({"collections": [asdict(c) for c in cols],
                     "documents": [asdict(d) for d in docs]})
        return
    for c in cols:
        if collection and c.name != collection:
            continue
        typer.echo(f"{c.name}: {_count(c.documents, 'document')}, {_count(c.chunks, 'passage')}")
        for d in docs:
            if d.collection == c.name:
                out(f"  {d.path}  ({d.format}, {_count(d.chunks, 'passage')})\n")


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


@library_app.command("show")
def library_show(path: Annotated[Path, typer.Argument(help="An imported file.")],
                 as_json: JsonOpt = False) -> None:
    """Show one imported document's details."""
    from dataclasses import asdict

    from .library import LibraryError

    target = str(path.expanduser().absolute())
    lib = open_library()
    try:
        docs = [d for d in lib.documents() if d.path == target]
    finally:
        lib.close()
    if not docs:
        raise LibraryError(f"{path}: not in the library; see `teachbot library list`")
    if as_json:
        print_json(asdict(docs[0]))
        return
    for key, value in asdict(docs[0]).items():
        out(f"{key:12} {value}\n")


@library_app.command("remove")
def library_remove(
    target: Annotated[str, typer.Argument(help="A file or folder path, or a collection name.")],
    as_json: JsonOpt = False,
) -> None:
    """Remove a document, a folder of documents, or a whole collection."""
    lib = open_library()
    try:
        n = lib.remove_document(target) if Path(target).expanduser().absolute().exists() or \
            "/" in target else 0
        if n == 0:
            n = lib.remove_collection(target)
    finally:
        lib.close()
    if as_json:
        print_json({"removed": n})
    else:
        typer.echo(f"removed {n} document{'s' if n != 1 else ''}")


@library_app.command("stats")
def library_stats(as_json: JsonOpt = False) -> None:
    """Counts and sizes of the library."""
    lib = open_library()
    try:
        stats = lib.stats()
    finally:
        lib.close()
    if as_json:
        print_json(stats)
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

    lib = open_library()
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
        print_json({"passages": n, "seconds": seconds, "embedder": stamp.get("model")})
    else:
        typer.echo(f"re-embedded {n} passages with {stamp.get('model')} in {seconds:.1f} s")


def search(
    query: Annotated[str | None, typer.Argument(help="What to look for.")] = None,
    k: Annotated[int, typer.Option(
        "--k", help="How many passages (documents, with --per-document).")] = 10,
    collection: Annotated[str | None, typer.Option(help="Only this collection.")] = None,
    mode: Annotated[str | None, typer.Option(
        help="hybrid (default), vector or keyword.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="Drop passages below this cosine similarity.")] = None,
    queries: Annotated[Path | None, typer.Option(
        help='A JSONL file of {"_id","text"} lines; prints one JSON line per query.')] = None,
    per_document: Annotated[bool, typer.Option(
        "--per-document",
        help=f"Return k distinct documents, each with up to {PASSAGES_PER_DOCUMENT} of its "
             "best passages.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Search the library without asking the model."""
    from .library import LibraryError

    if (query is None) == (queries is None):
        raise LibraryError("give a QUERY or --queries FILE.jsonl (not both)")
    lib = open_library()
    try:
        if queries is not None:
            for _lineno, q in _read_queries(queries):
                if per_document:
                    docs = lib.search_documents(q["text"], k=k, collection=collection,
                                                mode=mode, threshold=threshold,
                                                passages=PASSAGES_PER_DOCUMENT)
                    line: dict[str, Any] = {"_id": q["_id"],
                                            "documents": [_document(d) for d in docs]}
                else:
                    hits = lib.search(q["text"], k=k, collection=collection, mode=mode,
                                      threshold=threshold)
                    line = {"_id": q["_id"], "hits": [_hit(h) for h in hits]}
                sys.stdout.write(json.dumps(line, ensure_ascii=False) + "\n")
            return
        if per_document:
            docs = lib.search_documents(query or "", k=k, collection=collection, mode=mode,
                                        threshold=threshold, passages=PASSAGES_PER_DOCUMENT)
        else:
            hits = lib.search(query or "", k=k, collection=collection, mode=mode,
                              threshold=threshold)
    finally:
        lib.close()
    if per_document:
        _print_documents(query, docs, as_json)
        return
    if as_json:
        print_json({"query": query, "hits": [_hit(h) for h in hits]})
        return
    if not hits:
        typer.echo("no matching passages")
    for i, h in enumerate(hits, 1):
        where = f" p. {h.page}" if h.page else ""
        heading = f" — {h.heading}" if h.heading else ""
        out(f"[{i}] {h.score:.3f}  {h.path}{where}{heading}\n")
        out("    " + " ".join(h.text.split())[:200] + "\n")


def _print_documents(query: str | None, docs: list[Any], as_json: bool) -> None:
    if as_json:
        print_json({"query": query, "documents": [_document(d) for d in docs]})
        return
    if not docs:
        typer.echo("no matching documents")
    for i, d in enumerate(docs, 1):
        title = f" — {' '.join(d.title.split())[:80]}" if d.title else ""
        out(f"[{i}] {d.score:.3f}  {d.path}{title}\n")
        for h in d.hits:
            where = f"p. {h.page} " if h.page else ""
            heading = f"{h.heading}: " if h.heading else ""
            out(f"    {h.score:.3f}  {where}{heading}" + " ".join(h.text.split())[:160] + "\n")


def _document(d: Any) -> dict[str, Any]:
    return {"path": d.path, "title": d.title, "collection": d.collection, "score": d.score,
            "passages": [_hit(h) for h in d.hits]}


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

