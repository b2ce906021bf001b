"""Experiments as git commits under `refs/exps/…`: one module per verb (run, save, show, apply…)."""
