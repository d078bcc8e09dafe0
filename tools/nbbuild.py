"""Write a notebook from a compact list of (kind, source) cells: the notebooks' single point of authoring.

    python tools/nbbuild.py   # rewrites notebooks/*.ipynb from tools/notebooks/*.py specs

Each spec module defines CELLS = [("md", "..."), ("params", ConfigClass), ("code", "...")]. Writing notebooks
from specs keeps them diff-able and output-free; the .ipynb files are what users open and run.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def parameters_source(config_cls: type, tier: str = "toy", width: int = 118) -> str:
    """The `parameters` cell for a stage: every config field with its value on `tier` (the dataclass default under
    params/<tier>/<stage>.yaml, as `python -m stepwiser_core.run` resolves it), packed several to a line in the
    dataclass's order (`a = 1; b = 2`), so that even 03's 56 fields make a cell a reader can take in at once (the
    study's convention: no code cell over 25 lines). What each field means is its comment in stepwiser_core/stages.py,
    which the cell names; `help(<Config>)` in the notebook shows the same.

    Generated from `stepwiser_core.stages` and the tier's parameter file, so the cell, the config (which the runner
    checks against each other) and a batch run of the tier cannot drift apart: run top to bottom in JupyterLab, a
    notebook does what `make study` does. papermill executes the cell as it is and injects its own after it."""
    import dataclasses

    from stepwiser_core.config import load_config
    from stepwiser_core.stages import STAGES

    stage = next(name for name, cls in STAGES.items() if cls is config_cls)
    values = load_config(config_cls, ROOT / "params" / tier / f"{stage}.yaml", {}, tier=tier)
    lines = [f"# Parameters (the {tier} tier's values, params/{tier}/{stage}.yaml); papermill injects a cell after this",
             f"# one. Each name is a field of {config_cls.__name__} in stepwiser_core/stages.py, whose comment says what it does."]
    line = ""
    for f in dataclasses.fields(config_cls):
        item = f"{f.name} = {getattr(values, f.name)!r}"
        if line and len(line) + 2 + len(item) > width:
            lines.append(line)
            line = ""
        line = f"{line}; {item}" if line else item
    lines.append(line)
    return "\n".join(lines)


def build(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    for kind, source in cells:
        source = source if kind == "params" else source.strip("\n")
        if kind == "md":
            nb.cells.append(nbf.v4.new_markdown_cell(source))
        elif kind == "params":
            cell = nbf.v4.new_code_cell(parameters_source(source))
            cell.metadata["tags"] = ["parameters"]
            nb.cells.append(cell)
        else:
            nb.cells.append(nbf.v4.new_code_cell(source))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for i, cell in enumerate(nb.cells):  # stable ids keep diffs small
        cell["id"] = f"c{i:02d}"
    return nb


def main() -> None:
    specs = sorted((ROOT / "tools" / "notebooks").glob("*.py"))
    for spec in specs:
        mod_spec = importlib.util.spec_from_file_location(spec.stem, spec)
        module = importlib.util.module_from_spec(mod_spec)
        mod_spec.loader.exec_module(module)
        out = ROOT / "notebooks" / f"{spec.stem}.ipynb"
        nbf.write(build(module.CELLS), out)
        print("wrote", out.relative_to(ROOT), file=sys.stderr)


if __name__ == "__main__":
    main()
