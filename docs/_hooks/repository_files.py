"""MkDocs hook: the committed benchmark plots are served from where they live.

``benchmarks/results/*.png`` are written by the benchmark scripts and
committed once; rather than keeping copies under ``docs/``, each plot is added
to the site at ``results/<name>.png`` at build time, so a page links to
``results/bench_cpu_layers.png`` and always shows the committed run.
"""
from __future__ import annotations

import glob
import os

from mkdocs.structure.files import File

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PLOTS = os.path.join(ROOT, "benchmarks", "results", "*.png")


def on_files(files, config):
    for path in sorted(glob.glob(PLOTS)):
        files.append(File.generated(config, f"results/{os.path.basename(path)}", abs_src_path=path))
    return files
