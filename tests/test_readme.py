"""The README's main-job block is the output of the code as it is (issue 14): the job is
run again here and every number of the README's table is compared with the new run (all
columns but the timing). When the code changes a number on purpose, regenerate the block
with ``python docs/update_readme.py``."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("update_readme", ROOT / "docs" / "update_readme.py")
update_readme = importlib.util.module_from_spec(spec)
spec.loader.exec_module(update_readme)


def test_parse_table_reads_a_printed_row():
    line = "   full_psm    2,043   1,045        [-5, 4,090]    0.403   0.794       0     0.8   yes"
    row = update_readme.parse_table(line)["full_psm"]
    assert row == {"estimate": 2043.0, "se": 1045.0, "lo": -5.0, "hi": 4090.0, "smd": 0.403,
                   "mmd": 0.794, "dropped": 0.0, "seconds": 0.8, "covers": "yes"}


@pytest.mark.slow
def test_readme_main_job_block_matches_a_fresh_run():
    readme = update_readme.readme_block((ROOT / "README.md").read_text())
    recorded = update_readme.parse_table(readme)
    output, _ = update_readme.run_main_job()
    fresh = update_readme.parse_table(output)
    assert len(recorded) >= 7 and set(recorded) == set(fresh)
    for method, row in fresh.items():
        for column, value in row.items():
            if column == "seconds":
                continue
            if column == "covers":
                assert recorded[method][column] == value, (method, column)
            else:      # printed to the digit: a difference beyond rounding is a change
                assert recorded[method][column] == pytest.approx(value, abs=1.0 if
                                                                 abs(value) >= 100 else 1e-3), (
                    method, column)
