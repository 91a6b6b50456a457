"""``workbench lab``: JupyterLab on the project's notebooks, with this environment as the kernel.

```console
$ workbench lab                 # http://127.0.0.1:8888/lab?token=…
$ workbench lab --port 9999 --dry-run
```
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from workbench.dashboards.notebook import project_dir

__all__ = ["lab", "lab_command"]


def lab_command(*, notebook_dir: str | Path | None = None, port: int | None = None,
                allow_root: bool | None = None) -> list[str]:
    """The ``jupyter lab`` command line: 127.0.0.1, no browser, ``--allow-root`` when running as root.

    >>> lab_command(notebook_dir="notebooks", port=8899, allow_root=False)[-4:]
    ['--ip', '127.0.0.1', '--no-browser', '--port=8899']
    """
    folder = Path(notebook_dir) if notebook_dir is not None else project_dir() / "notebooks"
    jupyter = shutil.which("jupyter", path=str(Path(sys.executable).parent)) or "jupyter"
    cmd = [jupyter, "lab", "--notebook-dir", str(folder), "--ip", "127.0.0.1", "--no-browser"]
    if port is not None:
        cmd.append(f"--port={port}")
    root = allow_root if allow_root is not None else (hasattr(os, "geteuid") and os.geteuid() == 0)
    if root:
        cmd.append("--allow-root")
    return cmd


def _ensure_kernel() -> None:
    """Install this environment's ``python3`` kernel spec into the environment itself (idempotent)."""
    spec = Path(sys.prefix) / "share" / "jupyter" / "kernels" / "python3" / "kernel.json"
    if not spec.is_file():
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--sys-prefix"], check=True)


@click.command("lab")
@click.option("--notebook-dir", type=click.Path(file_okay=False), default=None,
              help="Folder to open (default: the project's notebooks/).")
@click.option("--port", type=int, default=None, help="Port (default: Jupyter's, 8888 or the next free one).")
@click.option("--dry-run", is_flag=True, help="Print the command instead of running it.")
def lab(notebook_dir: str | None, port: int | None, dry_run: bool) -> None:
    """Open JupyterLab on the notebooks, on 127.0.0.1, with this environment's Python as the kernel."""
    cmd = lab_command(notebook_dir=notebook_dir, port=port)
    if dry_run:
        click.echo(" ".join(cmd))
        return
    _ensure_kernel()
    os.chdir(project_dir())
    raise SystemExit(subprocess.call(cmd))
