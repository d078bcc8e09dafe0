"""Config resolution: defaults < YAML < overrides, and every mistake is a `ConfigError` a user can act on."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from stepwiser_core.config import (
    ConfigError,
    coerce_value,
    config_hash,
    config_to_dict,
    config_to_yaml,
    field_types,
    load_config,
    parse_cli_value,
)


@dataclasses.dataclass(frozen=True)
class DemoConfig:
    tier: str = "toy"
    seed: int = 0
    lr: float = 1e-3
    name: str = "demo"
    use_cot: bool = True
    levels: list[int] = dataclasses.field(default_factory=lambda: [1, 2])
    weights: list[float] = dataclasses.field(default_factory=lambda: [0.5])
    judges: list[str] = dataclasses.field(default_factory=list)
    max_steps: int | None = None
    checkpoint: str | None = None


VALID_NAMES = "checkpoint, judges, levels, lr, max_steps, name, seed, tier, use_cot, weights"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "demo.yaml"
    path.write_text(text)
    return path


def test_field_types_resolves_string_annotations() -> None:
    types = field_types(DemoConfig)
    assert types["seed"] is int and types["levels"] == list[int] and types["max_steps"] == int | None


def test_defaults_yaml_overrides_precedence(tmp_path: Path) -> None:
    path = _yaml(tmp_path, "seed: 5\nname: from_yaml\nlevels: [3]\n")
    cfg = load_config(DemoConfig, path, {"name": "from_cli"}, tier="smoke")
    assert cfg.tier == "smoke"
    assert cfg.seed == 5 and cfg.levels == [3]  # YAML beats defaults
    assert cfg.name == "from_cli"  # overrides beat YAML
    assert cfg.lr == 1e-3 and cfg.use_cot is True  # untouched defaults


def test_no_yaml_file_gives_defaults() -> None:
    assert load_config(DemoConfig, None, {}, tier="toy") == DemoConfig()


@pytest.mark.parametrize("where", ["overrides", "yaml"])
def test_unknown_key_is_named_with_all_valid_names(tmp_path: Path, where: str) -> None:
    path = _yaml(tmp_path, "sed: 1\n") if where == "yaml" else None
    overrides = {"sed": 1} if where == "overrides" else {}
    with pytest.raises(ConfigError) as info:
        load_config(DemoConfig, path, overrides, tier="toy")
    message = str(info.value)
    assert "'sed'" in message and "did you mean 'seed'" in message
    assert f"valid names: {VALID_NAMES}" in message
    if where == "yaml":
        assert str(path) in message


@pytest.mark.parametrize(
    ("name", "cli_text", "expected_type"),
    [
        ("seed", "abc", "int"),
        ("seed", "true", "int"),  # a bool is not an int, although Python says so
        ("seed", "1.5", "int"),
        ("lr", "true", "float"),
        ("lr", "fast", "float"),
        ("use_cot", "1", "bool"),
        ("name", "[1]", "str"),
        ("levels", "3", "list[int]"),
        ("seed", "null", "int"),  # None only for Optional fields
    ],
)
def test_wrong_type_names_parameter_type_and_value(name: str, cli_text: str, expected_type: str) -> None:
    value = parse_cli_value(cli_text)
    with pytest.raises(ConfigError) as info:
        load_config(DemoConfig, None, {name: value}, tier="toy")
    message = str(info.value)
    assert f"'{name}'" in message and f"expects {expected_type}" in message
    assert repr(value) in message and type(value).__name__ in message


@pytest.mark.parametrize(
    ("name", "value", "bad_index"),
    [("levels", [1, "x"], 1), ("levels", [True], 0), ("weights", [0.5, "a"], 1), ("judges", ["a", 3], 1)],
)
def test_list_elements_are_checked(name: str, value: list[object], bad_index: int) -> None:
    with pytest.raises(ConfigError, match=rf"'{name}\[{bad_index}\]'"):
        coerce_value(name, value, field_types(DemoConfig)[name])


def test_int_becomes_float_for_float_fields() -> None:
    cfg = load_config(DemoConfig, None, {"lr": 1, "weights": [1, 0.5]}, tier="toy")
    assert cfg.lr == 1.0 and isinstance(cfg.lr, float)
    assert cfg.weights == [1.0, 0.5] and all(isinstance(w, float) for w in cfg.weights)


def test_optional_accepts_none_and_checks_the_inner_type() -> None:
    cfg = load_config(DemoConfig, None, {"max_steps": 10, "checkpoint": None}, tier="toy")
    assert cfg.max_steps == 10 and cfg.checkpoint is None
    assert load_config(DemoConfig, None, {"max_steps": None}, tier="toy").max_steps is None
    with pytest.raises(ConfigError, match=r"'max_steps' expects int \| None, got 'ten' \(str\)"):
        load_config(DemoConfig, None, {"max_steps": "ten"}, tier="toy")


def test_parse_cli_value_reads_yaml_scalars_and_lists() -> None:
    assert parse_cli_value("0.001") == 0.001
    assert parse_cli_value("1e-3") == 0.001  # PyYAML alone would return the string '1e-3'
    assert parse_cli_value("[1,2]") == [1, 2]
    assert parse_cli_value("abc") == "abc"
    assert parse_cli_value("7") == 7 and parse_cli_value("true") is True and parse_cli_value("null") is None


def test_yaml_file_reads_exponent_floats(tmp_path: Path) -> None:
    assert load_config(DemoConfig, _yaml(tmp_path, "lr: 5e-6\n"), {}, tier="toy").lr == 5e-6


@pytest.mark.parametrize("text", ["seed: [1, 2\n", "- seed\n- 1\n", "just a string\n"])
def test_malformed_or_non_mapping_yaml_names_the_file(tmp_path: Path, text: str) -> None:
    path = _yaml(tmp_path, text)
    with pytest.raises(ConfigError, match=str(path)):
        load_config(DemoConfig, path, {}, tier="toy")


def test_empty_yaml_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(DemoConfig, _yaml(tmp_path, "# nothing set\n"), {}, tier="toy") == DemoConfig()


def test_tier_comes_from_caller_and_may_not_be_contradicted(tmp_path: Path) -> None:
    assert load_config(DemoConfig, _yaml(tmp_path, "tier: smoke\n"), {}, tier="smoke").tier == "smoke"
    with pytest.raises(ConfigError, match="tier"):
        load_config(DemoConfig, _yaml(tmp_path, "tier: paper\n"), {}, tier="smoke")


def test_post_init_errors_become_config_errors() -> None:
    @dataclasses.dataclass(frozen=True)
    class Checked:
        tier: str = "toy"
        seed: int = 0

        def __post_init__(self) -> None:
            if self.seed < 0:
                raise ValueError("seed must be >= 0")

    with pytest.raises(ConfigError, match="Checked: seed must be >= 0"):
        load_config(Checked, None, {"seed": -1}, tier="toy")


def test_hash_is_stable_and_sensitive(tmp_path: Path) -> None:
    base = load_config(DemoConfig, None, {}, tier="toy")
    same = load_config(DemoConfig, _yaml(tmp_path, "lr: 0.001\nlevels: [1, 2]\n"), {}, tier="toy")
    assert config_hash(base) == config_hash(same) and len(config_hash(base)) == 16
    assert config_hash(load_config(DemoConfig, None, {"seed": 1}, tier="toy")) != config_hash(base)
    assert config_hash(load_config(DemoConfig, None, {}, tier="smoke")) != config_hash(base)


def test_config_yaml_round_trip(tmp_path: Path) -> None:
    cfg = load_config(DemoConfig, None, {"lr": 2e-5, "max_steps": 3, "judges": ["a b", "c"]}, tier="toy")
    assert list(config_to_dict(cfg)) == [f.name for f in dataclasses.fields(DemoConfig)]
    assert load_config(DemoConfig, _yaml(tmp_path, config_to_yaml(cfg)), {}, tier="toy") == cfg


# --- the committed parameter files and notebooks ----------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("tier", ["smoke", "toy", "paper"])
def test_every_committed_parameter_file_loads_into_its_stage_config(tier: str) -> None:
    # a parameter renamed or removed in stages.py must not leave a tier's YAML behind (the paper tier never runs here)
    from stepwiser_core.stages import STAGES

    files = sorted((REPO / "params" / tier).glob("*.yaml"))
    assert [f.stem for f in files] == list(STAGES)
    for path in files:
        assert load_config(STAGES[path.stem], path, {}, tier=tier).tier == tier


def test_each_notebooks_parameters_cell_is_generated_from_its_stage_config() -> None:
    # papermill injects overrides after the `parameters` cell; a field missing from it would still run, but the
    # notebook would show a user a parameter list that is not the stage's (tools/nbbuild.py writes the cell)
    import importlib.util

    import nbformat

    from stepwiser_core.stages import STAGES

    spec = importlib.util.spec_from_file_location("nbbuild", REPO / "tools" / "nbbuild.py")
    nbbuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbbuild)
    for stage, config_cls in STAGES.items():
        notebook = nbformat.read(REPO / "notebooks" / f"{stage}.ipynb", as_version=4)
        cells = [c for c in notebook.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(cells) == 1, stage
        assert cells[0].source == nbbuild.parameters_source(config_cls), f"{stage}: run python tools/nbbuild.py"



def test_each_notebook_is_its_spec_built_and_keeps_the_cell_convention() -> None:
    # The .ipynb files are outputs of tools/notebooks/<stage>.py (make notebooks): an edit made in the .ipynb alone
    # is lost at the next build (notebook 04's section 4 once was). And a notebook narrates and calls the core: no
    # code cell defines a function or a class or runs past 25 lines (the study's convention, which the parameters
    # cell keeps by packing its fields several to a line).
    import importlib.util

    import nbformat

    from stepwiser_core.stages import STAGES

    spec = importlib.util.spec_from_file_location("nbbuild", REPO / "tools" / "nbbuild.py")
    nbbuild = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(nbbuild)
    for stage in STAGES:
        cells_spec = importlib.util.spec_from_file_location(stage, REPO / "tools" / "notebooks" / f"{stage}.py")
        cells_module = importlib.util.module_from_spec(cells_spec)
        cells_spec.loader.exec_module(cells_module)
        built = nbbuild.build(cells_module.CELLS)
        committed = nbformat.read(REPO / "notebooks" / f"{stage}.ipynb", as_version=4)
        assert [(c.cell_type, c.source) for c in committed.cells] == [(c.cell_type, c.source) for c in built.cells], \
            f"{stage}: the notebook is not its spec's build; edit tools/notebooks/{stage}.py and run make notebooks"
        for cell in committed.cells:
            if cell.cell_type == "code":
                lines = cell.source.splitlines()
                assert not any(line.lstrip().startswith(("def ", "class ")) for line in lines), (stage, cell.source)
                assert cell.source.count("\n") <= 25, (stage, cell.source[:80])

@pytest.mark.parametrize("overrides, message", [
    ({"problem_source": "gsm8k"}, "problem_source must be one of"),
    ({"problem_source": "numina", "verifier": "math_verify"}, "needs numina_path"),
    ({"problem_source": "numina", "numina_path": "/data/numina"}, "needs verifier 'math_verify'"),
    ({"prefilter_max_kept": -1}, "prefilter_max_kept must be >= 0"),
])
def test_rollout_label_prompt_sources_are_checked_before_anything_runs(overrides: dict, message: str) -> None:
    from stepwiser_core.stages import RolloutLabelConfig

    with pytest.raises(ConfigError, match=message):
        load_config(RolloutLabelConfig, None, overrides, tier="toy")
    ok = load_config(RolloutLabelConfig, None, {"problem_source": "numina", "numina_path": "AI-MO/NuminaMath-CoT",
                                                "verifier": "math_verify"}, tier="paper")
    assert ok.problem_source == "numina" and ok.prefilter_max_kept == 0
