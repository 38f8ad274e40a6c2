"""Offline HTML views: the DVC plots page and every dataset's Great Expectations Data Docs, with
the JavaScript and CSS they load from CDNs served from local copies, so they render with no
network (this project's documented mode).

The copies come from the npm packages pinned in ``views/package-lock.json`` (``make views`` runs
``npm ci --prefix views`` once, then ``seqbench views``). The output folder holds ``index.html``
linking ``dvc_plots/index.html`` and ``data_docs/<dataset>/index.html``, and a ``vendor/`` copy of
each file they use.
"""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from seqbench.errors import SeqbenchError

NODE_MODULES = Path("views/node_modules")
VENDOR = "vendor"
# CDN address (without its query) -> the same file in an npm package (under node_modules).
ASSETS = {
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/build/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/build/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/build/vega-embed.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/dist/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": (
        "popper.js/dist/umd/popper.min.js"
    ),
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": (
        "bootstrap/dist/js/bootstrap.min.js"
    ),
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": (
        "bootstrap/dist/css/bootstrap.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table/dist/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table/dist/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.js": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.min.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/"
    "bootstrap-table-filter-control.css": (
        "bootstrap-table/dist/extensions/filter-control/bootstrap-table-filter-control.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/"
    "bootstrap-datepicker.min.js": "bootstrap-datepicker/dist/js/bootstrap-datepicker.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/"
    "bootstrap-datepicker.min.css": "bootstrap-datepicker/dist/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": (
        "@fortawesome/fontawesome-free/css/all.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/"
    "bootstrap-prefers-dark.css": "@forevolve/bootstrap-dark/dist/css/bootstrap-prefers-dark.css",
}
# Files a vendored stylesheet loads by relative path (the font-awesome fonts).
COMPANIONS = {
    "@fortawesome/fontawesome-free/css/all.min.css": ["@fortawesome/fontawesome-free/webfonts"]
}
PLOT_SCRIPTS = ("vega/build/vega.min.js", "vega-lite/build/vega-lite.min.js",
                "vega-embed/build/vega-embed.min.js")  # fmt: skip
REMOTE_LOAD = re.compile(r"<(?:script|link|img)\b[^>]*\b(?:src|href)=\"(https?://[^\"]+)\"")
ATTRIBUTE = re.compile(r"\b(src|href)=\"(https?://[^\"]+)\"")
PLOTS_PAGE = """<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>seqbench: DVC plots</title>
  {local_scripts}
  <style>table {{ border-spacing: 15px; }}</style>
</head>
<body>
  {{plot_divs}}
</body>
</html>
"""


class ViewsError(SeqbenchError):
    """An offline view could not be built (the vendored packages or an input is missing)."""


def remote_loads(page: str) -> list[str]:
    """Addresses a page would fetch from the network (scripts, stylesheets, images)."""
    return REMOTE_LOAD.findall(page)


def localize(page: str, prefix: str, used: set[str]) -> str:
    """``page`` with each known CDN address in a ``src``/``href`` replaced by ``prefix`` + its
    vendored file (added to ``used``); the remote Great Expectations logo is dropped."""

    def local(match: re.Match[str]) -> str:
        attribute, url = match.groups()
        file = ASSETS.get(url.split("?", 1)[0])
        if file is None:
            if "great-expectations-web-assets" in url:  # the logo: an image, not content
                return f'{attribute}=""'
            return match.group(0)
        used.add(file)
        return f'{attribute}="{prefix}{file}"'

    return ATTRIBUTE.sub(local, page)


def copy_vendor(used: set[str], node_modules: Path, vendor_dir: Path) -> None:
    """Copy each used file (and its companions) from ``node_modules`` into ``vendor_dir``."""
    for file in sorted(used):
        for item in [file, *COMPANIONS.get(file, [])]:
            source, target = node_modules / item, vendor_dir / item
            if not source.exists():
                raise ViewsError(f"{source}: missing; run `npm ci --prefix views` (make views)")
            target.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, target, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, target)


def data_docs(docs_dir: Path, out_dir: Path, vendor_dir: Path, node_modules: Path) -> Path:
    """Copy one dataset's Data Docs to ``out_dir`` with its CDN loads made local."""
    if not (docs_dir / "index.html").is_file():
        raise ViewsError(f"{docs_dir / 'index.html'}: missing; run the validate stage first")
    shutil.copytree(docs_dir, out_dir)
    used: set[str] = set()
    for page in out_dir.rglob("*.html"):
        prefix = os.path.relpath(vendor_dir, page.parent).replace(os.sep, "/") + "/"
        page.write_text(localize(page.read_text(encoding="utf-8"), prefix, used), "utf-8")
    copy_vendor(used, node_modules, vendor_dir)
    return out_dir / "index.html"


def dvc_plots(repo: Path, out_dir: Path, node_modules: Path) -> Path:
    """``dvc plots show`` into ``out_dir`` with an HTML template that loads Vega locally."""
    scripts = "\n  ".join(f'<script src="{VENDOR}/{s}"></script>' for s in PLOT_SCRIPTS)
    with tempfile.TemporaryDirectory(prefix="seqbench-views-") as tmp:
        template = Path(tmp) / "plots.html"
        template.write_text(PLOTS_PAGE.format(local_scripts=scripts))
        command = [sys.executable, "-m", "dvc", "plots", "show", "--html-template",
                   str(template), "-o", str(out_dir.resolve())]  # fmt: skip
        done = subprocess.run(command, cwd=repo, capture_output=True, text=True)
        if done.returncode != 0:
            raise ViewsError(f"dvc plots show failed: {done.stderr.strip().splitlines()[-1:]}")
    copy_vendor(set(PLOT_SCRIPTS), node_modules, out_dir / VENDOR)
    return out_dir / "index.html"


def build_views(
    repo: Path,
    out_dir: Path,
    *,
    node_modules: Path | None = None,
    datasets: list[str] | None = None,
) -> Path:
    """Write every offline view of ``repo`` into ``out_dir`` (replaced); return its index.

    ``datasets``: whose Data Docs (``reports/validation/<name>/data_docs``) to include; default:
    every dataset that has them."""
    node_modules = node_modules or repo / NODE_MODULES
    if not node_modules.is_dir():
        raise ViewsError(f"{node_modules}: missing; run `npm ci --prefix views` (make views)")
    validation = repo / "reports" / "validation"
    if datasets is None:
        datasets = sorted(p.parent.name for p in validation.glob("*/data_docs"))
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    links = [("DVC plots: learning curves and comparison figures", "dvc_plots/index.html")]
    dvc_plots(repo, out_dir / "dvc_plots", node_modules)
    for name in datasets:
        page = data_docs(
            validation / name / "data_docs",
            out_dir / "data_docs" / name,
            out_dir / "data_docs" / VENDOR,
            node_modules,
        )
        links.append((f"Data Docs: {name}", page.relative_to(out_dir).as_posix()))
    items = "\n".join(
        f'  <li><a href="{html.escape(href)}">{html.escape(text)}</a></li>' for text, href in links
    )
    index = out_dir / "index.html"
    index.write_text(
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>seqbench views</title>'
        "</head>\n<body>\n<h1>seqbench views (offline)</h1>\n"
        f"<ul>\n{items}\n</ul>\n</body></html>\n"
    )
    return index
