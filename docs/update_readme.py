"""Regenerate the README's main-job block from a run of the code as it is.

Runs the README's main job (``causalsm compare --data lalonde_psid --plot ...``) in a
fresh process, times it, and rewrites the part of ``README.md`` between the
``<!-- main-job -->`` and ``<!-- /main-job -->`` markers: the timing sentence, the
printed table, and the sentences that compare the methods (worked out from the table, so
they cannot disagree with it). It also redraws ``docs/figures/compare_lalonde_psid.png``.
``tests/test_readme.py`` runs the same job and checks the table in the README against it,
so the block cannot drift from the code without a failing test.

Run from the repository root::

    python docs/update_readme.py
"""

from __future__ import annotations

import datetime
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIGURE = "docs/figures/compare_lalonde_psid.png"
COMMAND = ["compare", "--data", "lalonde_psid"]
START, END = "<!-- main-job -->", "<!-- /main-job -->"
ROW = re.compile(r"^\s*(?P<method>\w+)\s+(?P<estimate>-?[\d,]+)\s+(?P<se>[\d,]+)\s+"
                 r"\[(?P<lo>-?[\d,]+), (?P<hi>-?[\d,]+)\]\s+(?P<smd>[\d.]+)\s+"
                 r"(?P<mmd>[\d.]+)\s+(?P<dropped>\d+)\s+(?P<seconds>[\d.]+)\s+"
                 r"(?P<covers>yes|no)\s*$")


def run_main_job(plot: str | None = None) -> tuple[str, float]:
    """Run the main job in a new Python process; return its output and wall seconds."""
    cmd = [sys.executable, "-m", "causalsm", *COMMAND] + (["--plot", plot] if plot else [])
    env = dict(os.environ, MPLBACKEND="Agg")
    t0 = time.perf_counter()
    out = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    return out.stdout, time.perf_counter() - t0


def parse_table(text: str) -> dict[str, dict]:
    """The method rows of a printed comparison: method -> numbers (seconds included)."""
    rows = {}
    for line in text.splitlines():
        m = ROW.match(line)
        if m:
            d = m.groupdict()
            method = d.pop("method")
            rows[method] = {k: (v if k == "covers" else float(v.replace(",", "")))
                            for k, v in d.items()}
    return rows


def readme_block(readme: str) -> str:
    """The text between the main-job markers of the README."""
    i, j = readme.index(START), readme.index(END)
    return readme[i + len(START):j]


def _comparison_sentences(rows: dict[str, dict], benchmark: float) -> str:
    real = {k: v for k, v in rows.items() if k != "random"}
    closest = min(real, key=lambda k: abs(real[k]["estimate"] - benchmark))
    smd = min(real, key=lambda k: real[k]["smd"])
    mmd = min(real, key=lambda k: real[k]["mmd"])
    covering = [k for k, v in real.items() if v["covers"] == "yes"]
    rnd = rows.get("random")
    text = (f"Closest to the benchmark: `{closest}` ({real[closest]['estimate']:,.0f}); "
            f"smallest worst-case imbalance (max |SMD|): `{smd}` ({real[smd]['smd']:.3f}); "
            f"smallest linear MMD: `{mmd}` ({real[mmd]['mmd']:.3f}). "
            f"{len(covering)} of the {len(real)} matching methods have a 95% interval that "
            f"covers the benchmark")
    if rnd is not None:
        text += (f"; random matching, the floor, keeps the raw imbalance and misses by "
                 f"${abs(rnd['estimate'] - benchmark):,.0f}")
    return text + "."


def render(output: str, seconds: float, cores: int, date: str) -> str:
    """The README block for one run of the main job."""
    rows = parse_table(output)
    bench = float(re.search(r"benchmark ATT: ([\d,]+)", output).group(1).replace(",", ""))
    table = "\n".join(line for line in output.rstrip().splitlines()
                      if not line.startswith("plot written"))
    return f"""
The main job ({seconds:.0f} s on {cores} CPU cores, {date}; most of it training the neural
networks and bootstrapping multiply robust matching) runs {len(rows)} matching methods on the
same data and prints each ATT beside the NSW experimental benchmark (about $1,794), with the
covariate balance after matching (largest absolute standardized mean difference, linear MMD)
and whether the 95% interval covers the benchmark (this block is written by
`docs/update_readme.py` from a run of the code; `tests/test_readme.py` checks it):

```
{table}
```

{textwrap.fill(_comparison_sentences(rows, bench), 95)}
"""


def main() -> int:
    output, seconds = run_main_job(plot=FIGURE)
    date = datetime.date.today().isoformat()
    path = ROOT / "README.md"
    readme = path.read_text()
    block = render(output, seconds, os.cpu_count() or 1, date)
    i, j = readme.index(START) + len(START), readme.index(END)
    path.write_text(readme[:i] + block + readme[j:])
    print(f"README main-job block rewritten ({seconds:.0f} s run); figure {FIGURE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
