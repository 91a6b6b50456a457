"""The tool registry: register tools, load plugin files from a folder, hot-reload them on change, keep versions.

```python
registry = ToolRegistry.from_folder("plugins/")      # every *.py file's @tool functions
registry.get("get_bill")                             # the newest version
registry.get("get_bill", version="1.0")              # a specific one, while it is kept
registry.reload_if_changed()                         # re-import changed files (also done on get(), throttled)
```
A plugin that fails to import is logged and recorded in :attr:`ToolRegistry.errors`; the tools it
had before stay in service, so a bad deploy of one plugin never takes the assistant down.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.tools.errors import PluginError, ToolNotFoundError
from workbench.tools.spec import ToolSpec

__all__ = ["BUNDLED_PLUGINS", "ToolRegistry", "ToolVersion"]

log = logging.getLogger(__name__)

#: The folder of the bundled bank plugins.
BUNDLED_PLUGINS = Path(__file__).resolve().parent / "plugins"


@dataclass(frozen=True)
class ToolVersion:
    """One registered version of a tool."""

    name: str
    version: str
    revision: int
    """Registry-wide counter, increasing with every (re)registration."""
    source: str | None
    loaded_at: float


class ToolRegistry:
    """Tools by name and version; optionally backed by a plugin folder that is watched for changes."""

    def __init__(self, *, keep_versions: int = 5, check_interval_s: float = 1.0) -> None:
        self.keep_versions, self.check_interval_s = keep_versions, check_interval_s
        self._tools: dict[str, list[tuple[ToolVersion, ToolSpec]]] = {}
        self._files: dict[Path, tuple[str, tuple[str, ...]]] = {}   # file -> (content hash, tool names)
        self._folder: Path | None = None
        self._revision = 0
        self._last_check_ns = 0
        self._lock = threading.RLock()
        self.errors: dict[str, str] = {}
        """Plugin file -> the last load error (cleared when it loads again)."""
        self.reloads = 0

    @classmethod
    def from_folder(cls, folder: str | Path | None = None, **kwargs: Any) -> ToolRegistry:
        """A registry over a plugin folder (``None``: the bundled bank plugins)."""
        reg = cls(**kwargs)
        reg.load_plugins(folder or BUNDLED_PLUGINS)
        return reg

    # -- registration ----------------------------------------------------------------------------
    def register(self, spec: ToolSpec) -> ToolVersion:
        """Add a tool (a new version when the name exists; same version string: replaced)."""
        if not isinstance(spec, ToolSpec):
            raise TypeError(f"register() takes a ToolSpec (decorate the function with @tool), "
                            f"got {type(spec).__name__}")
        with self._lock:
            self._revision += 1
            ver = ToolVersion(spec.name, spec.version, self._revision, spec.source, time.time())
            history = [h for h in self._tools.get(spec.name, []) if h[0].version != spec.version]
            history.append((ver, spec))
            self._tools[spec.name] = history[-self.keep_versions:]
            return ver

    def unregister(self, name: str) -> bool:
        """Remove every version of a tool."""
        with self._lock:
            return self._tools.pop(name, None) is not None

    # -- lookup ----------------------------------------------------------------------------------
    def get(self, name: str, version: str | None = None) -> ToolSpec:
        """The newest version of ``name`` (or ``version``); raises :class:`ToolNotFoundError`."""
        self._maybe_check()
        with self._lock:
            history = self._tools.get(name)
            if not history:
                raise ToolNotFoundError(f"no tool {name!r}; registered: {', '.join(sorted(self._tools)) or 'none'}")
            if version is None:
                return history[-1][1]
            for ver, spec in reversed(history):
                if ver.version == version:
                    return spec
            raise ToolNotFoundError(f"tool {name!r} has no version {version!r}; kept: "
                                    f"{', '.join(v.version for v, _ in history)}")

    def names(self) -> list[str]:
        """Registered tool names, sorted."""
        self._maybe_check()
        with self._lock:
            return sorted(self._tools)

    def specs(self) -> list[ToolSpec]:
        """The newest version of every tool."""
        self._maybe_check()
        with self._lock:
            return [self._tools[n][-1][1] for n in sorted(self._tools)]

    def versions(self, name: str) -> list[ToolVersion]:
        """Kept versions of ``name``, oldest first."""
        with self._lock:
            return [v for v, _ in self._tools.get(name, [])]

    # -- plugins ---------------------------------------------------------------------------------
    def load_plugins(self, folder: str | Path) -> list[str]:
        """Load every ``*.py`` (not ``_*.py``) of ``folder`` and watch it; returns the tool names loaded."""
        path = Path(folder)
        if not path.is_dir():
            raise PluginError(f"plugin folder {str(path)!r} does not exist (tools.plugins_dir)")
        with self._lock:
            self._folder = path
        self.reload_if_changed(force=True)
        return self.names()

    def reload_if_changed(self, *, force: bool = False) -> list[str]:
        """Re-import plugin files whose content changed (new, edited, removed); returns the changed file names.

        ``force`` marks the initial load (not counted in :attr:`reloads`)."""
        with self._lock:
            folder = self._folder
            self._last_check_ns = time.perf_counter_ns()
            if folder is None:
                return []
            current = {p.resolve(): p for p in sorted(folder.glob("*.py")) if not p.name.startswith("_")}
            changed: list[str] = []
            for gone in [f for f in self._files if f not in current]:
                for name in self._files.pop(gone)[1]:
                    self.unregister(name)
                changed.append(gone.name)
            for resolved in current:
                try:
                    digest = hashlib.sha256(resolved.read_bytes()).hexdigest()
                except OSError:
                    continue
                if self._files.get(resolved, ("",))[0] == digest:
                    continue
                changed.append(resolved.name)
                try:
                    specs = self._import(resolved, digest)
                except Exception as exc:
                    self.errors[resolved.name] = f"{type(exc).__name__}: {exc}"
                    log.error("plugin %s failed to load (%s); its previous tools stay in service", resolved, exc)
                    self._files[resolved] = (digest, self._files.get(resolved, ("", ()))[1])
                    continue
                self.errors.pop(resolved.name, None)
                old = set(self._files.get(resolved, ("", ()))[1])
                for spec in specs:
                    self.register(spec)
                for name in old - {s.name for s in specs}:
                    self.unregister(name)
                self._files[resolved] = (digest, tuple(s.name for s in specs))
            if changed and not force:
                self.reloads += 1
            return changed

    def _import(self, path: Path, digest: str) -> list[ToolSpec]:
        mod_name = f"workbench_plugin_{path.stem}_{digest[:12]}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise PluginError(f"cannot import plugin {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            spec.loader.exec_module(module)
        finally:
            sys.modules.pop(mod_name, None)
        return [v for v in vars(module).values() if isinstance(v, ToolSpec)]

    def _maybe_check(self) -> None:
        if self._folder is None:
            return
        if time.perf_counter_ns() - self._last_check_ns >= self.check_interval_s * 1e9:
            self.reload_if_changed()
