"""The ONNX Runtime embedder against the sentence-transformers reference, its fingerprint, its
errors, and that the app never imports torch, transformers or sentence-transformers."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from teachbot_tui import config, defaults
from teachbot_tui.library import Library, LibraryError
from teachbot_tui.library.embedder import Embedder
from teachbot_tui.library.onnx_export import MODEL_FILE, find_export
from teachbot_tui.paths import Paths

from .conftest import ROOT, cli_env

TEACHER = ROOT / "scripts" / "data" / "beir-teacher" / "corpus.jsonl"
FIXTURES = ROOT / "scripts" / "data" / "beir-fixtures" / "corpus.jsonl"
# int8 dynamic quantization, measured on these 211 passages: min 0.979, mean 0.993
INT8_MIN_COSINE = 0.97
INT8_MEAN_COSINE = 0.99
HEAVY = ("torch", "transformers", "sentence_transformers")


def passages() -> list[str]:
    """Real passages: the two BEIR sets' documents (title line + text, as imported), plus
    long ones (past 128 and 256 tokens) made of several documents."""
    out = []
    for path in (TEACHER, FIXTURES):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                out.append(f"{d.get('title') or ''}\n{d['text']}".strip())
    out += [" ".join(out[i : i + 6]) for i in range(0, 60, 6)]  # truncated at 256 tokens
    out += ["  Exit tickets  ", "?", "Ünïcödé naïve café — “quotes” 😀"]
    return out


@pytest.fixture(scope="module")
def reference() -> object:
    from teachbot_tui.library.embedder_torch import TorchEmbedder

    ref = TorchEmbedder(defaults.embedder_path())
    _ = ref.model
    return ref


@pytest.mark.slow
@pytest.mark.parametrize("quantize", ["fp32", "int8"])
def test_onnx_vectors_match_sentence_transformers(quantize: str, reference: object,
                                                  tmp_path: Path) -> None:
    texts = passages()
    assert len(texts) > 200
    emb = Embedder(defaults.embedder_path(), quantize=quantize)
    got = emb.encode_uncached(texts)
    want = reference.encode_uncached(texts)  # type: ignore[attr-defined]
    assert got.shape == want.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cos = (got * want).sum(axis=1)
    print(f"{quantize}: {len(texts)} passages, cosine min {cos.min():.5f} mean {cos.mean():.5f}")
    if quantize == "fp32":
        assert cos.min() >= 0.999, (cos.min(), texts[int(cos.argmin())][:80])
    else:
        assert cos.min() >= INT8_MIN_COSINE and cos.mean() >= INT8_MEAN_COSINE, \
            (cos.min(), cos.mean())
    # one text alone (the query path) gives the vector it gets among others: each text is
    # its own run, so int8 activation scales do not depend on batch-mates
    alone = np.stack([emb.encode_query(texts[i]) for i in range(0, len(texts), 10)])
    assert np.allclose(alone, got[::10], atol=1e-6)
    # token counts (what chunking sizes passages by) are the reference tokenizer's, untruncated
    counts = [emb.count_tokens(t) for t in texts]
    assert counts == [reference.count_tokens(t) for t in texts]  # type: ignore[attr-defined]
    assert max(counts) > 256


def test_fingerprint_names_runtime_and_quantization(tmp_path: Path) -> None:
    from teachbot_tui.library.embedder_torch import TorchEmbedder

    path = defaults.embedder_path()
    ids = {Embedder(path, quantize="int8").model_id, Embedder(path, quantize="fp32").model_id,
           TorchEmbedder(path).model_id}
    assert len(ids) == 3
    assert Embedder(path).model_id.endswith("-int8")
    with pytest.raises(ValueError, match="quantize"):
        Embedder(path, quantize="int4")


def test_dim_and_sequence_length_need_no_model_load() -> None:
    emb = Embedder(defaults.embedder_path())
    assert (emb.dim, emb.max_seq_length) == (384, 256)
    assert emb._model is None


def test_export_is_found_in_the_cache_and_used(home: Path, embedder: Embedder) -> None:
    """The session's embedder found (or made) its export; the file is a real ONNX model."""
    folder = embedder.export_dir()
    assert (folder / MODEL_FILE).stat().st_size > 1_000_000
    meta = json.loads((folder / "export.json").read_text())
    assert meta["quantize"] == embedder.quantize and meta["check"]["min_cosine"] > 0.97
    assert find_export(folder.name, [folder.parent]) == folder


def test_a_folder_that_is_not_a_model_is_one_clear_error(home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "not-a-model"
    bad.mkdir()
    (bad / "notes.txt").write_text("hello")
    emb = Embedder(bad, Paths.from_env().embedding_cache)
    with pytest.raises(LibraryError, match="not-a-model.*tokenizer.json") as info:
        emb.encode(["hello"])
    assert "\n" not in str(info.value)


@pytest.mark.slow
def test_a_failed_export_is_one_clear_error_and_leaves_nothing(home: Path, tmp_path: Path) -> None:
    """A folder with a tokenizer but no weights: the export subprocess fails; the error is
    one line naming the folder, and no half-made export is left to be found later."""
    broken = tmp_path / "broken-model"
    broken.mkdir()
    src = defaults.embedder_path()
    for name in ("tokenizer.json", "config.json", "modules.json", "sentence_bert_config.json"):
        (broken / name).write_bytes((src / name).read_bytes())
    emb = Embedder(broken, Paths.from_env().embedding_cache)
    with pytest.raises(LibraryError, match="broken-model.*ONNX export failed") as info:
        emb.encode_query("hello")
    assert "\n" not in str(info.value)
    roots = emb.onnx_roots()
    assert not list(roots[0].glob("broken-model*"))


def test_library_made_by_the_torch_embedder_is_reembedded_not_mixed(
        home: Path, tmp_path: Path, embedder: Embedder) -> None:
    """A library stamped by sentence-transformers (every library before the ONNX runtime)
    is refused by the ONNX embedder until `reembed`, which stamps it with the ONNX id."""
    from teachbot_tui.library.embedder import fingerprint

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "trips.md").write_text("# School trips\n\nCollect the consent forms a week ahead.\n")
    lib = Library(Paths.from_env(), config.load(), embedder=embedder)
    lib.import_paths([docs])
    with lib.con:  # as stamped by the torch embedder
        lib.con.execute("UPDATE meta SET value=? WHERE key='embedding'", (json.dumps(
            {"model": fingerprint(defaults.embedder_path()), "recipe": 2}),))
    lib.close()
    again = Library(Paths.from_env(), config.load(), embedder=embedder)
    assert again.needs_reembed()
    with pytest.raises(LibraryError, match="reembed"):
        again.search("consent forms")
    assert again.reembed() == 1
    assert again.embedding_stamp()["model"] == embedder.model_id  # type: ignore[index]
    assert Path(again.search("consent forms", k=1)[0].path).name == "trips.md"


CHAT_AND_SEARCH = textwrap.dedent("""
    import sys
    from pathlib import Path
    from teachbot_tui import config
    from teachbot_tui.answers import Assistant
    from teachbot_tui.engine.fake import FakeEngine
    from teachbot_tui.library import Library
    from teachbot_tui.paths import Paths

    docs = Path(sys.argv[1])
    paths = Paths.from_env().ensure()
    settings = config.load(paths)
    lib = Library(paths, settings)
    report = lib.import_paths([docs])
    assert report.added == 2, report
    hits = lib.search("How do I get consent for a trip?", k=3)
    assert Path(hits[0].path).name == "trips.md", hits
    assistant = Assistant(FakeEngine("Collect the forms early [1]."), lib, settings)
    answer = assistant.answer("When are the consent forms due?", [])
    reply = "".join(answer)
    assert reply.strip() and answer.sources, (reply, answer.sources)
    heavy = sorted(m for m in sys.modules if m.split(".")[0] in {heavy!r})
    print("HEAVY", heavy)
""")


def test_the_app_never_imports_torch_transformers_or_sentence_transformers(
        home: Path, tmp_path: Path) -> None:
    """A chat (fake model, real assistant) grounded in a real library search, in a fresh
    process under ``-X importtime``: none of the heavy modules is imported."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "trips.md").write_text("# School trips\n\nCollect the consent forms a week ahead.\n")
    (docs / "phonics.txt").write_text("Phonics first: blend the sounds, then read the word.\n")
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CHAT_AND_SEARCH.format(heavy=HEAVY),
         str(docs)], capture_output=True, text=True, env=cli_env(home), timeout=600, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "HEAVY []" in proc.stdout, proc.stdout
    imported = {line.split("|")[-1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert "onnxruntime" in imported and "tokenizers" in imported  # the check sees imports
    assert not {m for m in imported if m.split(".")[0] in HEAVY}
