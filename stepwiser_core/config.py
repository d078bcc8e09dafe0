"""Generic machinery that turns defaults, a YAML file and command-line overrides into a validated stage config.

Each stage declares its parameters once, as a frozen dataclass (see `stepwiser_core.stages`). Papermill only
warns about a parameter the notebook does not declare and never checks types, so a typo or a wrong type would
silently run an hour-long stage with the default. Everything is therefore checked here, before anything runs:
unknown names and wrong types raise `ConfigError`, whose message is meant to be shown to the user as is.

Precedence: dataclass defaults < `<params_dir>/<stage>.yaml` < `-p NAME VALUE` overrides. Fields are flat:
int, float, str, bool, list[int | float | str] and `X | None` of those.

This module must stay light (no torch, no papermill): the runner validates configs in well under a second.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import re
import types
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml


class ConfigError(ValueError):
    """A parameter name, type or parameter file the user has to fix."""


class _Yaml12FloatLoader(yaml.SafeLoader):
    """SafeLoader that reads `1e-5` as a float.

    PyYAML implements YAML 1.1, where a float needs a dot (`1.0e-5`), so the learning rates people write, `1e-5`,
    would load as strings. The YAML 1.2 float pattern fixes that; everything else is plain `safe_load`.
    """


_Yaml12FloatLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.VERBOSE,
    ),
    list("-+0123456789."),
)


def _yaml_load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12FloatLoader)  # noqa: S506 - a SafeLoader subclass


def parse_cli_value(text: str) -> Any:
    """Parse a `-p NAME VALUE` value as YAML: `0.001` and `1e-3` are floats, `[1,2]` a list, `abc` a string."""
    try:
        return _yaml_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"cannot parse value {text!r} as YAML: {exc}") from None


def field_types(cls: type) -> dict[str, Any]:
    """Settable fields of a config dataclass and their resolved types (string annotations included)."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _type_name(tp: Any) -> str:
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _optional_inner(tp: Any) -> Any | None:
    """`X` for `X | None` / `Optional[X]`, else `None`."""
    if typing.get_origin(tp) in (types.UnionType, typing.Union):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0]
        raise TypeError(f"unsupported config type {tp}: only `X | None` unions are allowed")
    return None


def _type_error(name: str, tp: Any, value: Any) -> ConfigError:
    return ConfigError(
        f"parameter '{name}' expects {_type_name(tp)}, got {value!r} ({type(value).__name__})"
    )


def _coerce_scalar(name: str, value: Any, tp: Any, declared: Any) -> Any:
    """`declared` is the field's full type, for the message (`int | None` rather than `int`)."""
    # bool is a subclass of int in Python; `-p seed true` must not become seed=1.
    if tp is bool:
        ok = isinstance(value, bool)
    elif tp is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif tp is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if ok:
            return float(value)
    elif tp is str:
        ok = isinstance(value, str)
    else:
        raise TypeError(f"unsupported config type {_type_name(tp)} for parameter '{name}'")
    if not ok:
        raise _type_error(name, declared, value)
    return value


def _coerce_list(name: str, value: Any, tp: Any, declared: Any) -> list[Any]:
    if not isinstance(value, (list, tuple)):
        raise _type_error(name, declared, value)
    (elem_tp,) = typing.get_args(tp)
    try:
        return [_coerce_scalar(f"{name}[{i}]", elem, elem_tp, elem_tp) for i, elem in enumerate(value)]
    except ConfigError as exc:
        raise ConfigError(f"{exc}; parameter '{name}' expects {_type_name(declared)}") from None


def coerce_value(name: str, value: Any, tp: Any) -> Any:
    """Check `value` against the field type `tp` and return it normalised (ints become floats for float fields).

    Raises `ConfigError` naming the parameter, the expected type and the received value and its type.
    """
    declared = tp
    inner = _optional_inner(tp)
    if inner is not None:
        if value is None:
            return None
        tp = inner
    if typing.get_origin(tp) is list:
        return _coerce_list(name, value, tp, declared)
    return _coerce_scalar(name, value, tp, declared)


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    """The top-level mapping of a parameter file (an empty file is an empty mapping)."""
    try:
        data = _yaml_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"parameter file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"malformed YAML in parameter file {path}: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"parameter file {path} must be a mapping of parameter names to values, got {type(data).__name__}"
        )
    return data


def check_names(valid: Iterable[str], given: Iterable[str], where: str) -> None:
    """Raise `ConfigError` naming every name in `given` that is not in `valid`, and listing the valid names."""
    valid = sorted(valid)
    unknown = [name for name in given if name not in valid]
    if not unknown:
        return
    described = []
    for name in unknown:
        close = difflib.get_close_matches(str(name), valid, n=1)
        described.append(f"'{name}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
    raise ConfigError(f"unknown parameter(s) {', '.join(described)} in {where}; valid names: {', '.join(valid)}")


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def load_config(cls: type, yaml_path: Path | None, overrides: Mapping[str, Any], tier: str) -> Any:
    """Build a validated `cls` instance: defaults < YAML file < overrides, with `tier` set by the caller.

    `tier` comes from the params directory name; a YAML file or override that sets a different tier is an
    error rather than silently ignored. Defaults go through the same checks, so every value in the result has
    its canonical type (which keeps `config_hash` independent of where a value came from).
    """
    types_ = field_types(cls)
    from_file = _read_yaml_mapping(Path(yaml_path)) if yaml_path is not None else {}
    check_names(types_, from_file, f"parameter file {yaml_path} for {cls.__name__}")
    check_names(types_, overrides, f"overrides for {cls.__name__}")
    merged = {**from_file, **overrides}
    if "tier" in merged and merged["tier"] != tier:
        raise ConfigError(
            f"tier is set by the params directory ('{tier}'), but a parameter file or override sets "
            f"tier={merged['tier']!r}; remove it"
        )
    merged["tier"] = tier

    values: dict[str, Any] = {}
    missing = []
    for field in dataclasses.fields(cls):
        if not field.init:
            continue
        raw = merged[field.name] if field.name in merged else _default(field)
        if raw is dataclasses.MISSING:
            missing.append(field.name)
            continue
        values[field.name] = coerce_value(field.name, raw, types_[field.name])
    if missing:
        raise ConfigError(f"{cls.__name__}: required parameter(s) without a value: {', '.join(missing)}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:  # range checks in a dataclass's __post_init__
        raise ConfigError(f"{cls.__name__}: {exc}") from exc


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config as a flat dict, in field order (what papermill injects and `config.yaml` records)."""
    return dataclasses.asdict(cfg)


def config_to_yaml(cfg: Any) -> str:
    """The config as YAML that `load_config` reads back to an equal config."""
    return yaml.safe_dump(config_to_dict(cfg), sort_keys=False, allow_unicode=True)


def config_hash(cfg: Any) -> str:
    """First 16 hex digits of the sha256 of the config's canonical JSON: equal configs, equal hashes."""
    canonical = json.dumps(config_to_dict(cfg), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:16]


def config_from_namespace(cls: type, namespace: Mapping[str, Any]) -> Any:
    """Build `cls` from the variables a notebook's parameters cell defined (every field must be there).

    Notebooks call `config_from_namespace(PolicyConfig, globals())` right after the parameters cell, so
    the config reflects what papermill injected, and a missing name fails loudly instead of defaulting."""
    names = [f.name for f in dataclasses.fields(cls)]
    if missing := [n for n in names if n not in namespace]:
        raise ConfigError(f"{cls.__name__}: parameters not defined: {', '.join(missing)}")
    return cls(**{n: namespace[n] for n in names})
