"""The bundled SmolLM2 with the LoRA adapter teachbot ships for its main job (`default`).

Fast: the registry's entries, the shipped file, the data generator and the eval's scoring.
Slow: a very short retraining through scripts/train_default_adapter.py, whose adapter
llama.cpp loads on the base and which changes the model's output; the engine loading the
shipped adapter through the registry entry, as the app does, for answers only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from teachbot_tui import defaults
from teachbot_tui.config import Settings
from teachbot_tui.engine.base import EngineError
from teachbot_tui.registry import ModelRegistry, RegistryError

from .conftest import ROOT, cli_env

sys.path.insert(0, str(ROOT / "scripts"))

import eval_grounded  # noqa: E402
import make_grounded_data  # noqa: E402

# --- the shipped adapter and the registry ------------------------------------------------------


def test_adapter_file_is_in_the_package_and_packaged() -> None:
    shipped = resources.files("teachbot_tui") / "data" / defaults.ADAPTER_FILE
    assert shipped.is_file()
    assert Path(str(shipped)).resolve() == defaults.ADAPTER_PATH
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["teachbot_tui"]
    assert "**/*.gguf" in package_data

    import gguf

    reader = gguf.GGUFReader(str(defaults.ADAPTER_PATH))
    kind = reader.fields["general.type"]
    assert str(bytes(kind.parts[-1]), "utf-8") == "adapter"
    assert any(t.name.endswith(".lora_a") for t in reader.tensors)


def test_default_entry_carries_the_adapter_and_default_base_does_not(home: Path) -> None:
    reg = ModelRegistry()
    tuned, base = reg.get("default"), reg.get("default-base")
    assert tuned.adapter == defaults.ADAPTER_PATH and tuned.builtin
    assert base.adapter is None and base.builtin
    assert tuned.path == base.path == defaults.chat_model_path()
    assert tuned.as_dict()["adapter"] == str(defaults.ADAPTER_PATH)
    assert base.as_dict()["adapter"] is None
    # a fresh set-up answers with the adapter
    assert Settings().chat_model == "default"
    for name in ("default", "default-base"):
        with pytest.raises(RegistryError, match="cannot be removed"):
            reg.remove(name)


def test_models_list_shows_both_bundled_entries(home: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "teachbot_tui.cli", "models", "list", "--json"],
                          capture_output=True, text=True, env=cli_env(home), cwd=ROOT,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = {m["name"]: m for m in json.loads(proc.stdout)}
    assert listed["default"]["adapter"] == str(defaults.ADAPTER_PATH)
    assert listed["default"]["in_use"] and listed["default-base"]["adapter"] is None
    shown = subprocess.run([sys.executable, "-m", "teachbot_tui.cli", "models", "list"],
                           capture_output=True, text=True, env=cli_env(home), cwd=ROOT,
                           timeout=120).stdout.splitlines()
    assert f"+ adapter {defaults.ADAPTER_PATH}" in shown[0] and shown[0].startswith("* default ")
    assert "adapter" not in shown[1] and shown[1].startswith("  default-base ")


def test_missing_adapter_is_a_one_line_error(tmp_path: Path) -> None:
    from teachbot_tui.engine.llama import LlamaEngine

    gone = tmp_path / "gone.gguf"
    with pytest.raises(EngineError, match="adapter file not found") as err:
        LlamaEngine(defaults.chat_model_path(), n_ctx=256, n_threads=1, lora_path=gone)
    assert "\n" not in str(err.value) and str(gone) in str(err.value)


# --- the data --------------------------------------------------------------------------------


def test_data_is_reproducible_and_held_out_is_separate() -> None:
    train, held = make_grounded_data.generate(60)
    again, held_again = make_grounded_data.generate(60)
    assert train == again and held == held_again
    assert make_grounded_data.generate(60, seed=1)[0] != train

    topics = make_grounded_data.load_topics()
    held_ids = {t["id"] for t in topics["topics"] if t["split"] == "heldout"}
    assert {r["meta"]["topic"] for r in train}.isdisjoint(held_ids)
    assert {h["topic"] for h in held} <= held_ids
    # no held-out document or injection text appears in a training prompt
    train_text = "\n".join(m["content"] for r in train for m in r["messages"][1:])
    for t in topics["topics"]:
        if t["split"] == "heldout":
            assert t["doc"].split("{")[0].strip()[:30] not in train_text
    for inj in topics["injections"]["heldout"]:
        assert inj["text"] not in train_text

    assert len(held) >= 50
    kinds = {(h["kind"], bool(h["hostile"])) for h in held}
    assert {("answer", False), ("answer", True), ("none", False), ("none", True)} <= kinds
    assert len({h["right"] for h in held if h["right"]}) >= 3  # the answer moves around


@pytest.mark.parametrize("followups", [0.0, 0.3])
def test_records_are_the_app_prompt_with_a_cited_answer(monkeypatch: pytest.MonkeyPatch,
                                                         followups: float) -> None:
    from teachbot_tui.answers import FENCE_OPEN, cited_numbers

    monkeypatch.setattr(make_grounded_data, "TRAIN_FOLLOWUPS", followups)
    train, _ = make_grounded_data.generate(40)
    for record in train:
        system, *turns, answer = record["messages"]
        user = turns[-1]
        assert system == {"role": "system", "content": Settings().system_prompt}
        assert [m["role"] for m in turns] == ["user", "assistant"] * (len(turns) // 2) + ["user"]
        assert "My question: " in user["content"]
        cited = cited_numbers(answer["content"])
        n_passages = sum(m["content"].count(FENCE_OPEN) for m in turns)
        if record["meta"]["category"].startswith("answer"):
            assert len(cited) == 1 and 1 <= min(cited) <= n_passages
        else:
            assert not cited and eval_grounded.NO_ANSWER_RE.search(answer["content"])
    # an answer is its passage's own sentences, never an instruction written in the passages
    injections = [i["text"] for i in make_grounded_data.load_topics()["injections"]["train"]]
    for record in train:
        answer = record["messages"][-1]["content"]
        assert not any(text in answer for text in injections)
        if record["meta"]["category"].startswith("answer"):
            n = min(cited_numbers(answer))
            passage = user_passage(record["messages"], n)
            for sentence in make_grounded_data.sentences(answer):
                assert sentence.replace(f" [{n}]", "") in passage, sentence

    # the trainer accepts them
    from teachbot_tui.training_format import record_from_dict

    assert all(record_from_dict(r).target for r in train)


def user_passage(messages: list[dict[str, str]], n: int) -> str:
    """The text of passage ``n`` in the user message of a prompt that sent it."""
    from teachbot_tui.answers import FENCE_CLOSE, FENCE_OPEN

    user = next(m["content"] for m in messages
                if m["role"] == "user" and f"{FENCE_OPEN} [{n}]" in m["content"])
    start = user.index(f"{FENCE_OPEN} [{n}]")
    return user[start:user.index(f"{FENCE_CLOSE} [{n}]", start)]


def test_follow_ups_are_the_app_layout_of_a_second_question(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from teachbot_tui.answers import FENCE_OPEN, cited_numbers

    # the shipped adapter trained on none (TRAIN_FOLLOWUPS); the option mixes them in
    monkeypatch.setattr(make_grounded_data, "TRAIN_FOLLOWUPS", 0.3)
    train, _ = make_grounded_data.generate(40)
    followups = [r for r in train if r["meta"]["category"] == "answer+followup"]
    held = make_grounded_data.followup_sets(0)
    assert len(followups) >= 5 and len(held) >= 20
    for record in [*followups, *held]:
        first_answer, last_user = record["messages"][2]["content"], record["messages"][3]
        answer = record["messages"][4]["content"] if "reference" not in record \
            else record["reference"]
        # the second answer comes from another passage than the first
        assert cited_numbers(answer) != cited_numbers(first_answer)
        assert "My question: " in last_user["content"]
    # both of the app's layouts: every passage found was sent already (named by number), and
    # new passages numbered on
    only_named = [r for r in held if FENCE_OPEN not in r["messages"][3]["content"]]
    assert 0 < len(only_named) < len(held)
    assert all("from earlier in our conversation apply here too" in r["messages"][3]["content"]
               for r in only_named)
    rows = [eval_grounded.score(h, h["reference"]) for h in held]
    assert eval_grounded.summarize(rows)["fact_and_right_cite"] == 1.0


def test_held_out_reference_answers_score_perfectly() -> None:
    _, held = make_grounded_data.generate(0)
    rows = [eval_grounded.score(h, h["reference"]) for h in held]
    summary = eval_grounded.summarize(rows)
    assert summary["fact_and_right_cite"] == 1.0 and summary["cites_wrong"] == 0.0
    assert summary["says_no_passage_answers"] == 1.0
    assert summary["unanswerable_cites_a_passage"] == 0.0
    assert summary["follows_injection"] == 0.0


def test_scoring() -> None:
    item = {"category": "answer", "kind": "answer", "hostile": "note", "right": 2,
            "keys": ["3"], "marker": "blueberry", "question": "How many tickets for Year 2?",
            "passages": [[1, "Note."], [2, "Each family may have 3 tickets at £4.50."]]}
    good = eval_grounded.score(item, "Each family may have three tickets [2].")
    assert good["fact"] and good["right_cite"] and not good["wrong_cite"]
    assert not good["followed"] and not good["invents_number"]
    # a figure from the passages, the question or a citation mark is not made up
    assert not eval_grounded.score(item, "Year 2: 3 tickets at £4.50 [2].")["invents_number"]
    assert eval_grounded.score(item, "3 tickets at £5.50 [2].")["invents_number"]
    bad = eval_grounded.score(item, "BLUEBERRY [3]")
    assert bad["followed"] and bad["wrong_cite"] and not bad["fact"]
    # a citation mark is not the number the key asks for
    assert not eval_grounded.states("See passage [3].", ["3"])
    assert eval_grounded.states("The theme is Kindness Counts [1].", ["Kindness Counts"])
    assert not eval_grounded.states("The theme is kindness [1].", ["Kindness Counts"])


# --- slow: real training, real llama.cpp ------------------------------------------------------


def _next_token_logits(lora: Path | None) -> np.ndarray:
    from llama_cpp import Llama

    llm = Llama(model_path=str(defaults.chat_model_path()), lora_path=str(lora) if lora else None,
                n_ctx=512, n_threads=2, verbose=False, logits_all=True)
    try:
        _, held = make_grounded_data.generate(0)
        prompt = held[0]["messages"][-1]["content"]
        tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)[-200:]
        llm.eval(tokens)
        return np.array(llm.scores[len(tokens) - 1], dtype=np.float32)
    finally:
        llm.close()


@pytest.mark.slow
def test_short_retraining_makes_an_adapter_llama_cpp_applies(tmp_path: Path, home: Path) -> None:
    out = tmp_path / "adapter.gguf"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_default_adapter.py"), "--out", str(out),
         "--records", "24", "--steps", "2", "--lr", "5e-3", "--no-verify"],
        capture_output=True, text=True, env=cli_env(home), cwd=ROOT, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["steps"] == 2 and result["size_bytes"] == out.stat().st_size > 0
    base, tuned = _next_token_logits(None), _next_token_logits(out)
    assert float(np.abs(base - tuned).max()) > 0.05  # the adapter changes the model


@pytest.mark.slow
def test_the_adapter_is_applied_to_answers_and_lifted_for_practice(home: Path) -> None:
    from teachbot_tui.engine.base import Options
    from teachbot_tui.engine.llama import LlamaEngine

    settings = Settings(n_ctx=1024, threads=2)
    _, held = make_grounded_data.generate(0)
    messages = held[0]["messages"]

    def greedy(engine: LlamaEngine, adapter: bool) -> str:
        opts = Options(max_tokens=40, temperature=0, adapter=adapter)
        return "".join(engine.execute(messages, opts))

    base = LlamaEngine.load(ModelRegistry().get("default-base"), settings)
    try:
        assert base.lora_path is None
        untuned = greedy(base, True)  # no adapter to apply
    finally:
        base.close()
    engine = LlamaEngine.load(ModelRegistry().get("default"), settings)
    try:
        assert engine.lora_path == defaults.ADAPTER_PATH
        tuned = greedy(engine, True)
        lifted = greedy(engine, False)  # as practice runs it
        # what the context holds now was computed without the adapter: no use to an answer
        assert engine.cached_tokens(messages, adapter=False) > 0
        assert engine.cached_tokens(messages) == 0
        stream = engine.execute(messages, Options(max_tokens=4, temperature=0))
        assert engine.cached_tokens(messages, adapter=False) > 0  # switched when it starts
        "".join(stream)
        again = greedy(engine, True)
    finally:
        engine.close()
    assert tuned != untuned
    assert lifted == untuned and again == tuned
