"""The documents point at each other by section name ("docs/results.md, "Toy ProcessBench"") and by link; when a
section moves (the README's results moved to docs/results.md), every such pointer must move with it. These tests
read the repository's own text files and fail on a pointer that no longer lands."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED_DIRS = ("stepwiser_core", "tools", "tests", "benchmarks", "params", "docs", "results")
SUFFIXES = {".py", ".md", ".yaml", ".yml"}
# FILE, "NAME" / FILE "NAME" / FILE's "NAME", where FILE is the README or a file under docs/
REFERENCE = re.compile(r'(README(?:\.md)?|docs/\w+\.md)(?:\'s)?,? (?:section )?"([^"]{3,100})"')
LINK = re.compile(r"\]\(([^)\s]+)\)")


def flatten(text: str) -> str:
    """The text as one line: line breaks, comment leaders (`#`) and runs of spaces folded into one space, so that a
    reference wrapped over two comment lines reads as written."""
    return re.sub(r"\s+", " ", re.sub(r"\n[ \t]*#*[ \t]*", " ", text))


def section_names(markdown: str) -> list[str]:
    """What a reference may name in a Markdown file, lower-cased: its headings, and the bold or italic text that
    opens a paragraph or a list item (up to its closing mark or the end of the line)."""
    names = []
    for line in markdown.splitlines():
        s = re.sub(r"^\s*(- )?", "", line)
        m = re.match(r"#+ (.+)", s) or re.match(r"\*\*([^*]+)", s) or re.match(r"\*([^*]+)", s)
        if m:
            names.append(re.sub(r"\s+", " ", m.group(1)).strip().lower())
    return names


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def references(text: str) -> list[tuple[str, str]]:
    """(target file, section name) for each by-name reference in `text`."""
    return [("README.md" if f.startswith("README") else f, name) for f, name in REFERENCE.findall(flatten(text))]


def unresolved(text: str, read) -> list[str]:
    """The references of `text` whose section is not in the file they name (`read(path)` gives a file's text, or
    None when there is no such file)."""
    bad = []
    for target, name in references(text):
        markdown = read(target)
        if markdown is None or not any(s.startswith(name.lower()) for s in section_names(markdown)):
            bad.append(f'{target}, "{name}"')
    return bad


def repository_files() -> list[Path]:
    files = [ROOT / "README.md"]
    for d in SCANNED_DIRS:
        files += [p for p in sorted((ROOT / d).rglob("*")) if p.suffix in SUFFIXES and p.is_file()]
    return files


def read_repo(path: str) -> str | None:
    p = ROOT / path
    return p.read_text(encoding="utf-8") if p.is_file() else None


def test_the_helpers_on_hand_made_text():
    doc = ("# Results\n\n## 04 · Toy ProcessBench\n\n**Toy ProcessBench (`04`).** text\n**Time: over budget.** text\n"
           "- *Beyond the paper*, x\n")
    assert section_names(doc) == ["results", "04 · toy processbench", "toy processbench (`04`).", "time: over budget.",
                                  "beyond the paper"]
    assert slug("04 · Toy ProcessBench") == "04--toy-processbench"
    assert slug("Chunks, blank lines, or both: the paper's Table 9") == "chunks-blank-lines-or-both-the-papers-table-9"
    files = {"docs/results.md": doc}
    text = ('x (docs/results.md, "Toy\n    # ProcessBench") y; docs/results.md "Time"; docs/results.md\'s "Beyond";'
            ' README, "Time"; docs/results.md, "Nowhere"')
    assert references(text)[0] == ("docs/results.md", "Toy ProcessBench")
    assert unresolved(text, files.get) == ['README.md, "Time"', 'docs/results.md, "Nowhere"']


def test_every_reference_by_section_name_lands():
    bad = {str(p.relative_to(ROOT)): miss for p in repository_files() if p != Path(__file__).resolve()
           and (miss := unresolved(p.read_text(encoding="utf-8"), read_repo))}
    assert not bad, f"references to a section that is not in the file they name: {bad}"


@pytest.mark.parametrize("doc", ["README.md", "docs/results.md", "docs/judge_study.md", "docs/paper_tier.md"])
def test_every_relative_link_lands(doc):
    path = ROOT / doc
    bad = []
    for target in LINK.findall(path.read_text(encoding="utf-8")):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        if not dest.exists():
            bad.append(target)
        elif anchor and anchor not in {slug(h) for h in re.findall(r"^#+ (.+)$", dest.read_text(encoding="utf-8"),
                                                                     re.MULTILINE)}:
            bad.append(target)
    assert not bad, f"{doc}: links that land nowhere: {bad}"
