"""Build the docs site and screenshot every page with headless Chromium: `make screenshots`.

Writes one PNG per page into `.screenshots/` (git-ignored), full width, tall enough for most
pages, so a reviewer can look at how each page renders. Needs Debian's `chromium` package
(`apt-get install -y chromium`); the site is built offline into `.site/` first.

Usage: python dev/screenshots.py [--out DIR] [--height PX] [PAGE_SUBSTRING ...]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / ".site"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--hide-scrollbars",
]


def build_site() -> None:
    """`mkdocs build --strict` into `.site/` (what `make docs` does)."""
    mkdocs = Path(sys.executable).with_name("mkdocs")
    subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(SITE), "-q"], cwd=ROOT, check=True
    )


def pages() -> list[Path]:
    """Every page of the built site (not the 404 page)."""
    return sorted(p for p in SITE.rglob("index.html") if "assets" not in p.parts)


def shot(browser: str, page: Path, out: Path, width: int, height: int) -> Path:
    """Screenshot one page into `out`; returns the PNG's path."""
    rel = page.parent.relative_to(SITE)
    name = "home" if str(rel) == "." else str(rel).replace("/", "__")
    target = out / f"{name}.png"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *FLAGS,
                f"--user-data-dir={profile}",
                f"--window-size={width},{height}",
                f"--screenshot={target}",
                page.as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev/screenshots.py", description=__doc__)
    parser.add_argument("filters", nargs="*", help="only pages whose path contains one of these")
    parser.add_argument("--out", default=str(ROOT / ".screenshots"))
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=3000)
    parser.add_argument("--no-build", action="store_true", help="use the existing .site/")
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if browser is None:
        print("chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 2
    if not args.no_build:
        build_site()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chosen = [p for p in pages() if not args.filters or any(f in str(p) for f in args.filters)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        shots = list(pool.map(lambda p: shot(browser, p, out, args.width, args.height), chosen))
    for path in shots:
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
