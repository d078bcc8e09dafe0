"""Result tables: Markdown cells for numbers, missing values and text, and the CSV beside it."""
import pandas as pd

from stepwiser_core.tables import to_markdown, write_table


def test_markdown_rounds_floats_and_shows_every_kind_of_missing_value_as_a_dash(tmp_path):
    df = pd.DataFrame({"judge": ["steps", "a"], "seed": pd.array([None, 3], dtype="Int64"),
                       "f1": [float("nan"), 71.25], "note": [None, "x"]})
    assert to_markdown(df, digits=1).splitlines() == ["| judge | seed | f1 | note |", "|---|---|---|---|",
                                                      "| steps | – | – | – |", "| a | 3 | 71.2 | x |"]
    csv = write_table(df, tmp_path, "t", digits=1)
    assert pd.read_csv(csv)["seed"].tolist()[1] == 3 and (tmp_path / "t.md").read_text() == to_markdown(df, 1)
