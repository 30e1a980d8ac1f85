from __future__ import annotations  # string annotations: from_dict must resolve them

import dataclasses
import enum
import json
import math
import pathlib
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

import pytest

from unrolled.config_io import (
    ConfigError,
    apply_overrides,
    from_dict,
    load_config,
    load_config_file,
    parse_value,
    save_config,
    to_dict,
)


class Cell(enum.Enum):
    LSTM = "lstm"
    GRU = "gru"


@dataclass
class ModelCfg:
    hidden: int
    cell: Literal["lstm", "gru", "elman"] = "lstm"
    dropout: float = 0.0
    bidirectional: bool = False
    sizes: tuple[int, ...] = (1, 2)
    pair: tuple[int, str] = (0, "a")
    name: Optional[str] = None  # noqa: UP045 - Optional must work as well as X | None
    init: float | None = None

    def __post_init__(self) -> None:
        if self.hidden < 1:
            raise ValueError(f"expected hidden >= 1, got {self.hidden}")


@dataclass
class TrainCfg:
    lr: float = 1e-3
    steps: int = 10
    tags: list[str] = field(default_factory=list)
    extra: dict[str, float] = field(default_factory=dict)
    out: pathlib.Path = pathlib.Path("runs")
    kind: Cell = Cell.LSTM
    anything: Any = None


@dataclass
class RunCfg:
    model: ModelCfg
    train: TrainCfg = field(default_factory=TrainCfg)
    seed: int = 0
    stacks: tuple[ModelCfg, ...] = ()
    derived: int = field(default=0, init=False)


FULL = {
    "model": {"hidden": 64, "cell": "gru", "dropout": 0, "sizes": [3, 4, 5], "pair": [1, "b"], "name": "m"},
    "train": {"lr": 0.01, "steps": 5, "tags": ["x"], "extra": {"a": 1}, "out": "o/p", "kind": "gru"},
    "seed": 3,
    "stacks": [{"hidden": 2}, {"hidden": 3, "init": 0.5}],
}


def test_from_dict_nested_types():
    cfg = from_dict(RunCfg, FULL)
    assert cfg.model == ModelCfg(hidden=64, cell="gru", dropout=0.0, sizes=(3, 4, 5), pair=(1, "b"), name="m")
    assert isinstance(cfg.model.dropout, float)  # int accepted for float, converted
    assert cfg.train == TrainCfg(lr=0.01, steps=5, tags=["x"], extra={"a": 1.0}, out=pathlib.Path("o/p"), kind=Cell.GRU)
    assert cfg.stacks == (ModelCfg(hidden=2), ModelCfg(hidden=3, init=0.5))
    assert from_dict(RunCfg, {"model": {"hidden": 1}}) == RunCfg(model=ModelCfg(hidden=1))


def test_to_dict_round_trip_through_json():
    cfg = from_dict(RunCfg, FULL)
    d = to_dict(cfg)
    assert "derived" not in d  # init=False fields are not written
    assert d["model"]["sizes"] == [3, 4, 5] and d["train"]["out"] == "o/p" and d["train"]["kind"] == "gru"
    assert from_dict(RunCfg, json.loads(json.dumps(d))) == cfg


def test_save_config_atomic_json_round_trip(tmp_path):
    cfg = from_dict(RunCfg, FULL)
    path = save_config(cfg, tmp_path / "sub" / "config.json")
    assert path == tmp_path / "sub" / "config.json"
    assert from_dict(RunCfg, load_config_file(path)) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["config.json"]  # no temporary file left behind
    save_config({"a": 1, "b": [1, 2]}, path)  # replaces the old file
    assert load_config_file(path) == {"a": 1, "b": [1, 2]}


def test_toml_and_yaml_files(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text('seed = 7\n[model]\nhidden = 32\ncell = "elman"\nsizes = [1, 2]\n[train]\nlr = 5e-4\n')
    yml = tmp_path / "run.yaml"
    yml.write_text("seed: 7\nmodel:\n  hidden: 32\n  cell: elman\n  sizes: [1, 2]\ntrain:\n  lr: 0.0005\n")
    a, b = from_dict(RunCfg, load_config_file(toml)), from_dict(RunCfg, load_config_file(yml))
    assert a == b == RunCfg(model=ModelCfg(hidden=32, cell="elman"), train=TrainCfg(lr=5e-4), seed=7)
    (tmp_path / "empty.yml").write_text("")
    assert load_config_file(tmp_path / "empty.yml") == {}


def test_load_config_with_overrides(tmp_path):
    toml = tmp_path / "run.toml"
    toml.write_text("[model]\nhidden = 32\n")
    cfg = load_config(RunCfg, toml, ["model.hidden=256", "train.lr=1e-3", "train.out=foo.txt", "seed=-2"])
    assert cfg.model.hidden == 256 and cfg.train.lr == 1e-3 and cfg.train.out == pathlib.Path("foo.txt")
    assert cfg.seed == -2
    assert load_config(ModelCfg, None, ["hidden=4"]) == ModelCfg(hidden=4)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("256", 256),
        ("-3", -3),
        ("1e-3", 1e-3),
        ("0.5", 0.5),
        ("true", True),
        ("False", False),
        ("foo.txt", "foo.txt"),
        ("'1'", "1"),
        ('"a b"', "a b"),
        ("[1, 2]", [1, 2]),
        ("[a, b]", ["a", "b"]),
        ("{a = 1}", {"a": 1}),
        ("null", None),
        ("~", None),
        ("none", "none"),  # a string, e.g. norm=none
        ("", ""),
        ("2024-01-02", "2024-01-02"),  # dates stay strings
        ("C:/data/x", "C:/data/x"),
    ],
)
def test_parse_value(text, expected):
    value = parse_value(text)
    assert value == expected and type(value) is type(expected)


def test_parse_value_inf():
    assert parse_value("inf") == math.inf


def test_apply_overrides_copies_and_creates_tables():
    d = {"model": {"hidden": 1, "sub": {"x": 1}}}
    out = apply_overrides(d, ["model.sub.x = 2", "model.hidden=3", "new.deep.key=[1,2]", "top=ok"])
    assert out == {"model": {"hidden": 3, "sub": {"x": 2}}, "new": {"deep": {"key": [1, 2]}}, "top": "ok"}
    assert d == {"model": {"hidden": 1, "sub": {"x": 1}}}  # untouched
    assert apply_overrides(d, ["a=b=c"]) == {**d, "a": "b=c"}  # split at the first '='


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["model.hidden"], r"expected an override of the form 'key.sub=value', got 'model.hidden'"),
        ([3], r"expected an override of the form 'key.sub=value', got 3"),
        (["=3"], r"expected a dotted key like 'model.hidden' before '=', got '=3'"),
        (["model..x=3"], r"expected a dotted key like 'model.hidden' before '=', got 'model..x=3'"),
        (["model.hidden.x=3"], r"cannot apply override 'model.hidden.x=3': 'model.hidden' is a int, not a table"),
        ("model.hidden=3", r"expected a list of 'key=value' overrides, got str"),
    ],
)
def test_apply_overrides_errors(overrides, match):
    with pytest.raises(ConfigError, match=match):
        apply_overrides({"model": {"hidden": 1}}, overrides)


@pytest.mark.parametrize(
    ("d", "match"),
    [
        (
            {"model": {"hidden": 1, "hiden": 2}},
            r"unknown key 'model.hiden' for ModelCfg; valid keys: hidden, cell, drop",
        ),
        (
            {"model": {"hidden": 1}, "derived": 1},
            r"unknown key 'derived' for RunCfg; valid keys: model, train, seed, stacks$",
        ),
        ({"model": {}}, r"missing required key 'model.hidden' for ModelCfg"),
        ({}, r"missing required key 'model' for RunCfg"),
        ({"model": {"hidden": "64"}}, r"model.hidden: expected int, got str '64'"),
        ({"model": {"hidden": True}}, r"model.hidden: expected int, got bool True"),
        ({"model": {"hidden": 1.0}}, r"model.hidden: expected int, got float 1.0"),
        ({"model": {"hidden": 1, "dropout": "0"}}, r"model.dropout: expected float, got str '0'"),
        ({"model": {"hidden": 1, "bidirectional": 1}}, r"model.bidirectional: expected bool, got int 1"),
        ({"model": {"hidden": 1, "cell": "rnn"}}, r"model.cell: expected one of \['lstm', 'gru', 'elman'\], got str"),
        ({"model": {"hidden": 1, "sizes": 3}}, r"model.sizes: expected a list for tuple\[int, ...\], got int 3"),
        ({"model": {"hidden": 1, "sizes": [1, "a"]}}, r"model.sizes\[1\]: expected int, got str 'a'"),
        ({"model": {"hidden": 1, "pair": [1]}}, r"model.pair: expected 2 items for tuple\[int, str\], got 1"),
        ({"model": {"hidden": 1, "name": 5}}, r"model.name: expected Optional\[str\], got int 5"),
        ({"model": {"hidden": 1, "init": "x"}}, r"model.init: expected float \| None, got str 'x'"),
        ({"model": {"hidden": 1}, "train": {"tags": "x"}}, r"train.tags: expected a list for list\[str\], got str"),
        ({"model": {"hidden": 1}, "train": {"extra": {"a": "b"}}}, r"train.extra.a: expected float, got str 'b'"),
        ({"model": {"hidden": 1}, "train": {"extra": [1]}}, r"train.extra: expected a table for dict\[str, float\]"),
        ({"model": {"hidden": 1}, "train": {"out": 3}}, r"train.out: expected a path string, got int 3"),
        ({"model": {"hidden": 1}, "train": {"kind": "rnn"}}, r"train.kind: expected one of \['lstm', 'gru'\], got"),
        ({"model": 5}, r"expected a table/mapping for ModelCfg at 'model', got int 5"),
        ({"model": {"hidden": 0}}, r"invalid ModelCfg at 'model': expected hidden >= 1, got 0"),
        ({"model": {"hidden": 1}, "stacks": [{"hidden": 1}, {"hidden": 1, "x": 1}]}, r"unknown key 'stacks\[1\].x'"),
    ],
)
def test_from_dict_errors(d, match):
    with pytest.raises(ConfigError, match=match):
        from_dict(RunCfg, d)


def test_from_dict_argument_errors():
    with pytest.raises(TypeError, match="expected a dataclass type, got 3"):
        from_dict(3, {})
    with pytest.raises(ConfigError, match="expected a table/mapping for ModelCfg, got list"):
        from_dict(ModelCfg, [1])


def test_load_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"expected a config file ending in .toml, .yaml, .yml, .json, got .*x.ini"):
        load_config_file(tmp_path / "x.ini")
    missing = tmp_path / "missing.toml"
    with pytest.raises(FileNotFoundError, match="config file not found: .*missing.toml"):
        load_config_file(missing)
    with pytest.raises(ValueError, match="config file not found"):  # also a ValueError
        load_config_file(missing)
    (tmp_path / "dir.yaml").mkdir()
    with pytest.raises(ConfigError, match="expected a config file, got a directory"):
        load_config_file(tmp_path / "dir.yaml")
    bad_toml = tmp_path / "bad.toml"
    bad_toml.write_text("[model]\nhidden = \n")
    with pytest.raises(ConfigError, match=r"could not parse TOML config .*bad.toml: .*line 2") as info:
        load_config_file(bad_toml)
    assert "\n" not in str(info.value)
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("model:\n  hidden: [1, 2\nseed: 3\n")
    with pytest.raises(
        ConfigError, match=r"could not parse YAML config .*bad.yaml at line 3, column 5: expected"
    ) as info:
        load_config_file(bad_yaml)
    assert "\n" not in str(info.value)
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{"a": 1,\n "b": }')
    with pytest.raises(ConfigError, match=r"could not parse JSON config .*bad.json at line 2, column 7"):
        load_config_file(bad_json)
    listy = tmp_path / "list.yml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match=r"expected a table/mapping at the top level of .*list.yml, got list"):
        load_config_file(listy)
    binary = tmp_path / "bin.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="could not read config file .*bin.toml"):
        load_config_file(binary)


def test_save_config_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"expected a path ending in .json to save a config, got .*c.toml"):
        save_config({"a": 1}, tmp_path / "c.toml")
    with pytest.raises(TypeError, match="expected a dataclass instance or a dict to save, got list"):
        save_config([1], tmp_path / "c.json")
    with pytest.raises(TypeError, match="expected a dataclass instance or a dict to save, got type"):
        save_config(RunCfg, tmp_path / "c.json")
    with pytest.raises(ConfigError, match=r"cannot save config to .*c.json: .*\(JSON has no nan/inf\)"):
        save_config({"lr": math.nan}, tmp_path / "c.json")
    with pytest.raises(ConfigError, match="cannot write a value of type object to a config file"):
        save_config({"x": object()}, tmp_path / "c.json")
    with pytest.raises(ConfigError, match="expected string keys in a config mapping, got int 1"):
        save_config({1: 2}, tmp_path / "c.json")
    assert list(tmp_path.iterdir()) == []  # nothing written by the failed saves


def test_to_dict_scalars():
    np = pytest.importorskip("numpy")
    assert to_dict({"a": (1, np.float64(0.5)), "b": Cell.GRU}) == {"a": [1, 0.5], "b": "gru"}
    assert dataclasses.is_dataclass(RunCfg)


def test_saved_config_has_the_normal_permissions(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        save_config({"a": 1}, tmp_path / "c.json")
    finally:
        os.umask(old)
    assert (tmp_path / "c.json").stat().st_mode & 0o777 == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["c.json"]
