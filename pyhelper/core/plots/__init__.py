"""Plots: the pipeline's plots definitions, their data at any revision or experiment, and Vega-Lite specs.

definitions.py  dvc.yaml `plots` (top level and stage outputs) → PlotDef
series.py       CSV/TSV/JSON/YAML files → records; Snapshot = one revision's files
templates.py    Vega-Lite specs (linear, scatter, smooth, confusion, bar), 20 distinct colours
collect.py      revisions chosen by name → plots with the data of every revision joined
across.py       one record per experiment: metric vs param, parallel coordinates
report.py       the self-contained HTML report (vendored Vega inlined, strict CSP)
"""
