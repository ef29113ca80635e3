"""The model catalog: the data file validates, and verdicts follow the machine."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from teachbot_tui import catalog
from teachbot_tui.catalog import CatalogError, Machine

GB = 1_000_000_000
# this 2-core, 24 GB machine, with the default model's speeds from docs/benchmarks.md
#: This 2-core machine as `teachbot models catalog --measure` times the default model.
LAPTOP = Machine(ram_bytes=24 * 2**30, vram_bytes=None, prompt_tps=253.0, decode_tps=81.0)


def test_catalog_validates_against_its_schema() -> None:
    import jsonschema

    data = catalog.load_raw()
    jsonschema.Draft202012Validator.check_schema(catalog.schema())
    catalog.validate(data)  # raises on any problem
    entries = catalog.entries()
    assert 6 <= len(entries) <= 10
    families = {e.family for e in entries}
    assert {"Llama 3.2", "Qwen2.5", "Gemma 2", "Phi-3.5"} <= families
    for e in entries:
        assert e.file.endswith(".gguf") and "/" in e.repo and "/" in e.base_model
        # the estimate covers at least the file itself
        assert e.ram_4k_gb * GB > e.file_size_bytes


@pytest.mark.parametrize("mutate, message", [
    (lambda d: d["models"][0].pop("licence"), "'licence' is a required property"),
    (lambda d: d["models"][1].update(file="model.bin"), "models/1/file"),
    (lambda d: d["models"][2].update(sha256="abc"), "models/2/sha256"),
    (lambda d: d["models"].append(dict(d["models"][0])), "duplicate names: llama-3.2-1b"),
])
def test_catalog_problems_are_named(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    data = copy.deepcopy(catalog.load_raw())
    mutate(data)
    with pytest.raises(CatalogError, match=message):
        catalog.validate(data)


def test_schema_file_is_shipped_in_the_package() -> None:
    here = Path(catalog.__file__).parent
    assert json.loads((here / "catalog.schema.json").read_text())["title"]


def test_this_laptop_7b_slow_and_1b_good() -> None:
    by_name = {f.entry.name: f for f in catalog.fits(LAPTOP)}
    assert by_name["llama-3.2-1b"].verdict == "good fit"
    assert by_name["qwen2.5-1.5b"].verdict == "good fit"
    assert by_name["qwen2.5-7b"].verdict == "slow"
    assert by_name["qwen2.5-7b"].memory == "fits"  # it fits; it is the speed that hurts
    assert by_name["llama-3.2-3b"].verdict == "usable"
    assert catalog.best_fit(list(by_name.values())).entry.name == "qwen2.5-1.5b"  # type: ignore[union-attr]


def test_small_machine_refuses_what_does_not_fit() -> None:
    small = Machine(ram_bytes=4 * 2**30, vram_bytes=None, prompt_tps=242.0, decode_tps=133.0)
    by_name = {f.entry.name: f for f in catalog.fits(small)}
    assert by_name["qwen2.5-7b"].verdict == "too big"
    assert by_name["phi-3.5-mini"].verdict == "too big"
    assert by_name["llama-3.2-1b"].memory == "fits"
    assert by_name["llama-3.2-3b"].memory == "tight"


def test_gpu_that_holds_the_model_makes_it_a_good_fit() -> None:
    gpu = Machine(ram_bytes=16 * 2**30, vram_bytes=8 * 2**30, prompt_tps=242.0, decode_tps=133.0)
    by_name = {f.entry.name: f for f in catalog.fits(gpu)}
    assert by_name["qwen2.5-7b"].gpu == "fits"
    assert by_name["qwen2.5-7b"].verdict == "good fit"
    assert catalog.best_fit(list(by_name.values())).entry.name == "qwen2.5-7b"  # type: ignore[union-attr]
    tiny_gpu = Machine(ram_bytes=16 * 2**30, vram_bytes=2 * 2**30, prompt_tps=242.0,
                       decode_tps=133.0)
    assert catalog.fit(catalog.get("qwen2.5-7b"), tiny_gpu).gpu == "too big"


def test_slow_machine_has_no_good_fit() -> None:
    slow = Machine(ram_bytes=8 * 2**30, vram_bytes=None, prompt_tps=40.0, decode_tps=20.0)
    results = catalog.fits(slow)
    assert all(f.verdict in ("slow", "usable", "too big") for f in results)
    assert {f.verdict for f in results} == {"slow"}
    assert catalog.best_fit(results) is None


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(CatalogError, match="did you mean 'llama-3.2-1b'"):
        catalog.get("llama-3.2-1")


def test_catalog_command_json(home: Path) -> None:
    from typer.testing import CliRunner

    from teachbot_tui.cli import app

    # a cached speed measurement: the command reads it instead of measuring
    cache = home / "cache"
    cache.mkdir()
    import os

    (cache / catalog.SPEED_CACHE).write_text(json.dumps(
        {"prompt_tps": 242.0, "decode_tps": 133.0, "file_bytes": catalog.DEFAULT_FILE_BYTES,
         "cpu_count": os.cpu_count(), "measured": True}))
    result = CliRunner().invoke(app, ["models", "catalog", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    verdicts = {m["name"]: m["verdict"] for m in data["models"]}
    assert set(verdicts.values()) <= {"good fit", "usable", "slow", "too big"}
    assert data["machine"]["decode_tps"] == 133.0  # the cached figure, not a new measurement
    assert data["best_fit"] in verdicts
    text = CliRunner().invoke(app, ["models", "catalog"]).stdout
    assert "qwen2.5-7b" in text and "Best fit:" in text


@pytest.mark.slow  # loads the real default model
def test_default_speed_is_measured_once_then_cached(home: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    paths = catalog.Paths.from_env()
    first = catalog.default_speed(paths, threads=2)
    assert first["measured"] and first["prompt_tps"] > 0 and first["decode_tps"] > 0
    assert (paths.cache_dir / catalog.SPEED_CACHE).is_file()

    def no_second_measurement(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("measured again")

    monkeypatch.setattr(catalog, "measure_default_speed", no_second_measurement)
    assert catalog.default_speed(paths, threads=2)["decode_tps"] == first["decode_tps"]
    machine = catalog.this_machine(paths)
    assert machine.measured and machine.decode_tps == first["decode_tps"]


def test_speed_estimate_keeps_a_fixed_cost_per_token() -> None:
    """Part of a token's time does not grow with the file: a model 8x the default's size is
    estimated faster than 1/8 of its speed, and never faster than the default."""
    linear = catalog.scaled_tps(80.0, 100, 800, 0.0)
    assert linear == pytest.approx(10.0)
    affine = catalog.scaled_tps(80.0, 100, 800, catalog.DECODE_FIXED_SHARE)
    assert linear < affine < 80.0
    assert catalog.scaled_tps(80.0, 100, 100, 0.4) == pytest.approx(80.0)
