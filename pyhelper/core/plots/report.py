"""The self-contained HTML report of `xp plots show/diff`: one file that renders offline.

The vendored vega, vega-lite, vega-embed and vega-interpreter (pyhelper/plots_assets/, from the
npm registry by scripts/vendor-plots-assets.sh) are inlined, so the file needs no network. Specs
travel as JSON inside a `<script type="application/json">` whose `<`, `>` and `&` are escaped,
so no value (an experiment named `</script>…`) can end the script; titles and labels are drawn
by Vega as SVG text, never parsed as HTML. A content security policy with a per-file nonce allows
only these scripts, and Vega evaluates expressions with its interpreter instead of `eval`.
"""

from __future__ import annotations

import html
import json
import secrets
from pathlib import Path
from typing import Any

from pyhelper.core.plots.collect import Plots

ASSETS = Path(__file__).resolve().parent.parent.parent / "plots_assets"
SCRIPTS = ("vega.min.js", "vega-lite.min.js", "vega-interpreter.min.js", "vega-embed.min.js")

_RENDER = """
const specs = JSON.parse(document.getElementById('xp-specs').textContent);
const root = document.getElementById('plots');
for (const item of specs) {
  const section = document.createElement('section');
  const heading = document.createElement('h2');
  heading.textContent = item.id;
  const chart = document.createElement('div');
  chart.className = 'chart';
  section.append(heading, chart);
  root.append(section);
  // Over 5,000 points a chart is painted on a canvas: an SVG node per point would make it slow.
  const values = item.spec.data && item.spec.data.values;
  const renderer = Array.isArray(values) && values.length > 5000 ? 'canvas' : 'svg';
  vegaEmbed(chart, item.spec, {renderer, ast: true, expr: vega.expressionInterpreter,
                               actions: {export: true, source: false, compiled: false, editor: false}})
    .catch((error) => {
      chart.classList.add('xp-error');
      chart.textContent = 'Could not draw this plot: ' + error.message;
    });
}
"""

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin: 1.2em 0 0.3em; font-family: monospace; }
.chart { width: 100%; max-width: 900px; } ul.errors { color: #a33; } .revs { color: #555; }
"""


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no `</script>`, `<!--` or `&` can appear in it."""
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":"))
            .replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029"))


def render(plots: Plots, *, title: str = "xp plots", page: str | None = None) -> str:
    """The HTML document of a report (every chart of `plots`, then what could not be read).

    `page` is a user's HTML template (DVC's --html-template): the charts go where it says `{plot_divs}`,
    the scripts where it says `{scripts}` (else after the charts), and the content security policy
    at the top of its `<head>` (else before the charts).
    """
    nonce = secrets.token_urlsafe(18)
    scripts = "\n".join(f"<script nonce=\"{nonce}\">{(ASSETS / name).read_text(encoding='utf-8')}</script>"
                        for name in SCRIPTS)
    specs = [{"id": plot.id, "spec": plot.inline()} for plot in plots.plots]
    revisions = ", ".join(html.escape(r.label) for r in plots.revisions)
    errors = "".join(f"<li>{html.escape(e)}</li>" for e in plots.errors)
    errors = f'<ul class="errors">{errors}</ul>' if errors else ""
    empty = "" if plots.plots else "<p>No plots: dvc.yaml declares none, or their files are missing.</p>"
    csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
           "img-src data: blob:; font-src data:")
    if page is not None:
        return _into_page(page, csp=csp, title=title, revisions=revisions, empty=empty, errors=errors,
                          specs=specs, scripts=f"{scripts}\n<script nonce=\"{nonce}\">{_RENDER}</script>")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">\n"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1><p class=\"revs\">Revisions: {revisions}</p>{empty}\n"
        f"<div id=\"plots\"></div>\n{errors}\n"
        f"<script type=\"application/json\" id=\"xp-specs\">{_script_json(specs)}</script>\n"
        f"{scripts}\n<script nonce=\"{nonce}\">{_RENDER}</script>\n</body></html>\n"
    )


def _into_page(page: str, *, csp: str, title: str, revisions: str, empty: str, errors: str,
               specs: list[dict[str, Any]], scripts: str) -> str:
    """The report's parts placed in a user's HTML template at {plot_divs}, {scripts} and {refresh_tag}."""
    import re

    divs = (f"<h1>{html.escape(title)}</h1><p class=\"revs\">Revisions: {revisions}</p>{empty}\n"
            f"<style>{_STYLE}</style><div id=\"plots\"></div>\n{errors}\n"
            f"<script type=\"application/json\" id=\"xp-specs\">{_script_json(specs)}</script>\n")
    meta = f"<meta http-equiv=\"Content-Security-Policy\" content=\"{csp}\">"
    if "{scripts}" not in page:
        divs += scripts
        scripts = ""
    head = re.search(r"<head[^>]*>", page, re.IGNORECASE)
    if head:
        page = page[:head.end()] + meta + page[head.end():]
    else:
        divs = meta + divs
    # One pass, so text a part brings (a `{scripts}` inside a spec) is never replaced again.
    parts = {"{plot_divs}": divs, "{scripts}": scripts, "{refresh_tag}": ""}
    return re.sub(r"\{plot_divs\}|\{scripts\}|\{refresh_tag\}", lambda m: parts[m.group(0)], page)
