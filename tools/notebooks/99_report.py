from stepwiser_core.stages import ReportConfig

CELLS = [
("md", r"""
# 99 · The report

`REPORT.md` in `<results_root>/<tier>/`, assembled from the stages' result files only: each stage's headline numbers
from its `metrics.json`, its main tables and figures, and the folder and commit it came from
(`stepwiser_core/report.py`). The README quotes and discusses these numbers; this report is what a run wrote.
The runner skips a stage whose config is unchanged, and this one reads other stages' files: after re-running a stage,
rebuild the report with `python -m stepwiser_core.run 99_report --params params/<tier> --force`.
"""),
("params", ReportConfig),
("code", r"""
from pathlib import Path

from IPython.display import Markdown, display

from stepwiser_core import report
from stepwiser_core.io import atomic_write_text
from stepwiser_core.stage_context import open_stage
from stepwiser_core.stages import ReportConfig

stage = open_stage(ReportConfig, globals())
cfg = stage.cfg
report_dir = Path(cfg.results_root) / cfg.tier
sources = [report_dir / s for s in cfg.sources]
text = report.build_report(sources, report_dir, title=cfg.title)
atomic_write_text(report_dir / "REPORT.md", text)
print(f"wrote {report_dir / 'REPORT.md'} ({len(text.splitlines())} lines)")
display(Markdown(text))
"""),
]
