"""Config resolution, written once for every task: defaults < ``--config FILE`` < flags < ``--set key=value``.

The result is the task's typed config (its dataclass, checked when built), which the run saves as ``config.json``.
``--resume RUN`` starts from the run's saved config instead, and accepts only the options and keys the task
declares resumable (:attr:`~unrolled.tasks.spec.Task.resume_options`, :attr:`~unrolled.tasks.spec.Task.resume_keys`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from unrolled.config_io import ConfigError, apply_overrides, from_dict, load_config_file, to_dict
from unrolled.tasks.runs import RunError, read_run_config
from unrolled.tasks.spec import Task

__all__ = ["build_config", "check_sections", "default_raw", "load_run_config", "resolve_config", "resume_config"]


def default_raw(task: Task) -> dict[str, Any]:
    """The task's defaults as a dict of sections."""
    return task.default_raw() if task.default_raw is not None else to_dict(task.config_type())


def check_sections(sections: Sequence[str], raw: Mapping[str, Any], source: str | None = None) -> None:
    """One-line ConfigError unless each of the ``sections`` in ``raw`` is a table (``source``: the file it came
    from)."""
    for name in sections:
        if name in raw and not isinstance(raw[name], dict):
            value = raw[name]
            where = f"{source}: section" if source else "config section"
            raise ConfigError(
                f"{where} '{name}' must be a table of settings (e.g. [{name}] in TOML, '{name}:' in YAML, or --set "
                f"{name}.KEY=VALUE), got {type(value).__name__} {value!r}"
            )


def build_config(task: Task, raw: dict[str, Any]) -> Any:
    """The typed, checked config of a dict of sections."""
    check_sections(task.sections, raw)
    return task.build_config(raw) if task.build_config is not None else from_dict(task.config_type, raw)


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in top.items():
        out[k] = _deep_merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _override_key(item: str) -> str:
    return item.partition("=")[0].strip()


def _apply_options(task: Task, raw: dict[str, Any], given: Mapping[str, Any]) -> set[str]:
    keys = set()
    for dest, value in given.items():
        option = task.option(dest)
        if option is None or option.key is None:
            continue
        section, _, name = option.key.partition(".")
        if not isinstance(raw.get(section), dict):
            raw[section] = {}
        raw[section][name] = value
        keys.add(option.key)
    return keys


def _no_progress(raw: dict[str, Any]) -> None:
    if isinstance(raw.get("train"), dict):
        raw["train"]["progress"] = False


def resolve_config(
    task: Task,
    config_file: str | None = None,
    given: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    no_progress: bool = False,
) -> Any:
    """The config of a new run: ``task``'s defaults, then the ``config_file`` (TOML, YAML or JSON), then the
    options ``given`` (option ``dest`` -> value, only those the user gave), then the ``--set`` ``overrides``; the
    task's :attr:`~unrolled.tasks.spec.Task.prepare` sees the raw result before it is typed and checked."""
    given = dict(given or {})
    raw = default_raw(task)
    explicit: set[str] = set()
    if config_file:
        loaded = load_config_file(config_file)
        check_sections(task.sections, loaded, source=config_file)
        explicit |= {f"{s}.{k}" for s, table in loaded.items() if isinstance(table, dict) for k in table}
        raw = _deep_merge(raw, loaded)
    explicit |= _apply_options(task, raw, given)
    if no_progress:
        _no_progress(raw)
    for item in overrides:
        key = _override_key(item)
        if key in task.sections:
            raise ConfigError(f"--set {item}: '{key}' is a section; set one of its keys, e.g. --set {key}.KEY=VALUE")
    raw = apply_overrides(raw, overrides)
    explicit |= {_override_key(item) for item in overrides}
    if task.prepare is not None:
        task.prepare(raw, explicit, given)
    return build_config(task, raw)


def load_run_config(task: Task, run_dir: str | Path) -> tuple[Any, dict[str, Any]]:
    """The typed config saved in ``run_dir`` (a run of ``task``) and the raw ``config.json``."""
    run_dir = Path(run_dir)
    raw = read_run_config(run_dir, task.name)
    try:
        cfg = build_config(task, {k: raw[k] for k in task.sections if k in raw})
    except ValueError as e:
        raise RunError(f"{run_dir / 'config.json'}: {' '.join(str(e).split())}") from None
    return cfg, raw


def resume_config(
    task: Task,
    run_dir: str | Path,
    given: Mapping[str, Any] | None = None,
    overrides: Sequence[str] = (),
    no_progress: bool = False,
    refused: Sequence[str] = (),
) -> Any:
    """The saved config of ``run_dir`` with the changes ``--resume`` allows; anything else is refused by name
    (``refused``: options the caller already knows cannot go with ``--resume``, e.g. ``--config``)."""
    run_dir = Path(run_dir)
    given = dict(given or {})
    bad = [task.option(d).flag for d in given if d not in task.resume_options and task.option(d) is not None]
    bad += list(refused)
    for item in overrides:
        key = _override_key(item)
        if not any(key == k or key.startswith(k + ".") for k in task.resume_keys):
            bad.append(f"--set {key}")
    if bad:
        flags = [task.option(d).flag for d in task.resume_options if task.option(d) is not None]
        keys = ", ".join(k if "." in k else k + ".*" for k in task.resume_keys)
        raise ConfigError(
            f"--resume continues {run_dir} with its saved configuration; {', '.join(bad)} would change its model, "
            f"data or optimisation (allowed: {', '.join(flags)}, --no-progress, and --set on {keys}); train a new "
            "run for other settings"
        )
    cfg, _ = load_run_config(task, run_dir)
    raw = to_dict(cfg)
    _apply_options(task, raw, given)
    if no_progress:
        _no_progress(raw)
    return build_config(task, apply_overrides(raw, overrides))
