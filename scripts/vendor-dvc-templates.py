"""Re-vendors DVC's built-in plot templates (dvc-render's vega_templates) as JSON for `xp plots --json`.

Run with DVC 3.67.1's Python (scripts/dvc-venv.sh installs it):
    ~/.cache/xp/dvc-3.67.1/bin/python scripts/vendor-dvc-templates.py
It writes pyhelper/plots_assets/dvc-templates.json ({name: template}, in dvc-render's order) and copies
dvc-render's licence (Apache-2.0) beside it. The files are committed; run this only to change versions.
"""

import json
import shutil
from importlib.metadata import distribution
from pathlib import Path

from dvc_render.vega_templates import TEMPLATES

DEST = Path(__file__).resolve().parents[1] / "pyhelper" / "plots_assets"
dist = distribution("dvc-render")
templates = {cls.DEFAULT_NAME: cls.DEFAULT_CONTENT for cls in TEMPLATES}
(DEST / "dvc-templates.json").write_text(json.dumps({"version": f"dvc-render {dist.version}",
                                                     "templates": templates}, indent=1) + "\n")
licence = next(f for f in dist.files or [] if f.name == "LICENSE")
shutil.copyfile(Path(str(licence.locate())), DEST / "dvc-render.LICENSE.txt")
print(f"dvc-render {dist.version}: {', '.join(templates)}")
