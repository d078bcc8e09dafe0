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


def parameters_source(config_cls: type, tier: str = "toy") -> str:
    """The `parameters` cell for a stage: one line per config field, its value on `tier` (the dataclass default
    under params/<tier>/<stage>.yaml, as `python -m stepwiser_core.run` resolves it) and the field's comment.

    Generated from `stepwiser_core.stages` and the tier's parameter file, so the cell, the config (which the runner
    checks against each other) and a batch run of the tier cannot drift apart: run top to bottom in JupyterLab, a
    notebook does what `make study` does."""
    import dataclasses
    import inspect
    import re

    from stepwiser_core.config import load_config
    from stepwiser_core.stages import STAGES

    stage = next(name for name, cls in STAGES.items() if cls is config_cls)
    values = load_config(config_cls, ROOT / "params" / tier / f"{stage}.yaml", {}, tier=tier)
    comments = {}
    for cls in reversed(config_cls.__mro__[:-1]):
        for line in inspect.getsource(cls).splitlines():
            if m := re.match(r"^\s+(\w+): [^=]+=[^#]+#\s*(.*)$", line):
                comments[m[1]] = m[2]
    lines = [f"# Parameters (the {tier} tier's values, params/{tier}/{stage}.yaml). papermill injects a cell after this one;",
             "# each name is a field of stepwiser_core/stages.py, where its comment comes from"]
    for f in dataclasses.fields(config_cls):
        lines.append(f"{f.name} = {getattr(values, f.name)!r}" + (f"  # {comments[f.name]}" if f.name in comments else ""))
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
