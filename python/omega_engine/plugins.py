"""Plugins: pluggy hooks for symbol specs, strategy presets, cost models, configs and results.

A plugin is any object (module, class instance) with functions decorated by :data:`hookimpl`
whose names match the hook specifications below. Plugins are found two ways:

* installed packages that declare an entry point in the ``omega_engine`` group, e.g. in their
  ``pyproject.toml``::

      [project.entry-points.omega_engine]
      my_broker = "my_broker_plugin"

* at run time: ``oe.plugins.register(obj)``.

Example::

    import omega_engine as oe

    class MyBroker:
        @oe.hookimpl
        def omega_symbol_specs(self):
            return [oe.SymbolSpec("DE40", 1.0, 0.1, 1.0, "EUR", "EUR")]

        @oe.hookimpl
        def omega_cost_models(self):
            return {"my_broker": {"commission": {"default": {"schema": "per_lot", "per_lot": 3.0}}}}

    oe.plugins.register(MyBroker())

A hook implementation that raises becomes :class:`~omega_engine.errors.PluginError` (4001) naming
the plugin.
"""

from __future__ import annotations

import builtins
import importlib.metadata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

from .errors import make_error, raise_error

if TYPE_CHECKING:
    from .run import RunResult

__all__ = [
    "PROJECT",
    "ENTRY_POINT_GROUP",
    "hookimpl",
    "hookspec",
    "PluginInfo",
    "register",
    "unregister",
    "list",
    "check",
    "manager",
    "load_entry_points",
    "collect_symbol_specs",
    "strategy_presets",
    "cost_models",
    "configs",
    "postprocess_result",
]

PROJECT = "omega_engine"
ENTRY_POINT_GROUP = "omega_engine"

hookspec = pluggy.HookspecMarker(PROJECT)
#: Decorator marking a plugin's hook implementations.
hookimpl = pluggy.HookimplMarker(PROJECT)


class HookSpecs:
    """The hook specifications (signatures and meaning of every hook)."""

    @hookspec
    def omega_symbol_specs(self) -> Iterable[Any]:  # type: ignore[empty-body]
        """Return symbol specs (``SymbolSpec`` or mappings of its fields) this plugin provides."""

    @hookspec
    def omega_strategy_presets(self) -> Mapping[str, Any]:  # type: ignore[empty-body]
        """Return named strategy parameter presets: name → strategy object or
        ``{"name": ..., "params": {...}}`` mapping. Use with ``oe.strategies.preset(name)``."""

    @hookspec
    def omega_cost_models(self) -> Mapping[str, Any]:  # type: ignore[empty-body]
        """Return named cost models: name → a ``costs`` config mapping (or an object with a
        ``to_config()`` method). Configs refer to them by name: ``costs="my_broker"``."""

    @hookspec
    def omega_configs(self) -> Iterable[Any]:  # type: ignore[empty-body]
        """Return run configs (mappings, strategy objects, dataclasses) this plugin contributes;
        an orchestration script collects them all with ``oe.plugins.configs()``."""

    @hookspec
    def omega_postprocess_result(self, result: RunResult) -> RunResult | None:
        """Inspect or transform a finished result. Return a new ``RunResult`` to replace it, or
        None to keep it. Called in registration order (most recently registered first)."""


_pm: pluggy.PluginManager | None = None
_entry_points_loaded = False
_sources: dict[str, str] = {}


def manager() -> pluggy.PluginManager:
    """The package's plugin manager (entry points are loaded on first use)."""
    global _pm
    if _pm is None:
        _pm = pluggy.PluginManager(PROJECT)
        _pm.add_hookspecs(HookSpecs)
    if not _entry_points_loaded:
        load_entry_points()
    return _pm


def load_entry_points() -> int:
    """Loads every plugin of the ``omega_engine`` entry-point group (once); returns how many
    were newly registered. A plugin that fails to import raises PluginError (4001)."""
    global _entry_points_loaded
    _entry_points_loaded = True
    pm = manager()
    n = 0
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # noqa: BLE001 - any import failure of foreign code
            raise make_error("PLUGIN_ERROR",
                             f"entry point {ep.name!r} ({ep.value}) failed to load: "
                             f"{type(exc).__name__}: {exc}") from exc
        _register_checked(plugin, ep.name)
        dist = getattr(ep, "dist", None)
        _sources[ep.name] = f"entry point ({dist.name})" if dist is not None else "entry point"
        n += 1
    return n


def _register_checked(plugin: object, name: str | None) -> str:
    pm = manager() if _pm is None else _pm
    try:
        registered = pm.register(plugin, name=name)
    except ValueError as exc:
        raise make_error("PLUGIN_ERROR", f"plugin {name or plugin!r} cannot be registered: {exc}"
                         ) from None
    except pluggy.PluginValidationError as exc:
        raise make_error("PLUGIN_ERROR", f"plugin {name or plugin!r} is invalid: {exc}") from None
    if registered is None:  # blocked name
        raise_error("PLUGIN_ERROR", f"plugin name {name!r} is blocked")
    return registered


def register(plugin: object, name: str | None = None) -> str:
    """Registers a plugin object at run time; returns its name."""
    registered = _register_checked(plugin, name)
    _sources[registered] = "runtime"
    return registered


def unregister(plugin: object | str) -> None:
    """Removes a plugin (by object or name); UnknownPluginNameError (4002) if none matches."""
    pm = manager()
    if isinstance(plugin, str):
        obj = pm.get_plugin(plugin)
        if obj is None:
            raise_error("UNKNOWN_PLUGIN_NAME",
                        f"no plugin named {plugin!r} (registered: {_names(pm)})")
        name = plugin
    else:
        obj = plugin
        maybe = pm.get_name(plugin)
        if maybe is None:
            raise_error("UNKNOWN_PLUGIN_NAME", f"{plugin!r} is not registered")
        name = maybe
    pm.unregister(obj, name=name)
    _sources.pop(name, None)


def check() -> None:
    """Fails (PluginError, 4001) when a registered plugin implements a hook that does not exist
    (e.g. a misspelled ``omega_*`` name), naming it."""
    try:
        manager().check_pending()
    except pluggy.PluginValidationError as exc:
        raise make_error("PLUGIN_ERROR", str(exc)) from None


def _names(pm: pluggy.PluginManager) -> str:
    names = sorted(n for n, _ in pm.list_name_plugin())
    return ", ".join(names) or "none"


@dataclass(frozen=True)
class PluginInfo:
    """One registered plugin: its name, where it came from and the hooks it implements."""

    name: str
    source: str
    hooks: tuple[str, ...]


def list() -> builtins.list[PluginInfo]:  # noqa: A001 - the public name is oe.plugins.list()
    """Every registered plugin, sorted by name."""
    pm = manager()
    out = []
    for name, plugin in pm.list_name_plugin():
        callers = pm.get_hookcallers(plugin) or []
        hooks = tuple(sorted(c.name for c in callers))
        out.append(PluginInfo(name, _sources.get(name, "runtime"), hooks))
    return sorted(out, key=lambda p: p.name)


def _call(hook_name: str, **kwargs: Any) -> builtins.list[tuple[str, Any]]:
    """Calls every implementation of a hook, one by one, so a failure names its plugin."""
    pm = manager()
    hook = getattr(pm.hook, hook_name)
    results = []
    for impl in reversed(hook.get_hookimpls()):  # pluggy's order: last registered first
        try:
            value = impl.function(**kwargs)
        except Exception as exc:  # noqa: BLE001 - foreign code
            raise make_error("PLUGIN_ERROR",
                             f"hook {hook_name} of plugin {impl.plugin_name!r} raised "
                             f"{type(exc).__name__}: {exc}") from exc
        if value is not None:
            results.append((impl.plugin_name, value))
    return results


def _merge_named(hook_name: str) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    # Earlier-registered plugins first, so later registrations override them.
    for plugin_name, value in reversed(_call(hook_name)):
        if not isinstance(value, Mapping):
            raise_error("PLUGIN_ERROR",
                        f"hook {hook_name} of plugin {plugin_name!r} must return a mapping, got "
                        f"{type(value).__name__}")
        merged.update(value)
    return merged


def collect_symbol_specs() -> Iterable[Any]:
    """Every symbol spec contributed by plugins (later registrations win)."""
    out: builtins.list[Any] = []
    for plugin_name, value in reversed(_call("omega_symbol_specs")):
        try:
            out.extend(value)
        except TypeError:
            raise_error("PLUGIN_ERROR",
                        f"hook omega_symbol_specs of plugin {plugin_name!r} must return an "
                        f"iterable, got {type(value).__name__}")
    return out


def strategy_presets() -> dict[str, Any]:
    """Named strategy presets from every plugin."""
    return _merge_named("omega_strategy_presets")


def cost_models() -> dict[str, Any]:
    """Named cost models from every plugin."""
    return _merge_named("omega_cost_models")


def configs() -> builtins.list[Any]:
    """Every config contributed by plugins, in registration order."""
    out: builtins.list[Any] = []
    for plugin_name, value in reversed(_call("omega_configs")):
        if isinstance(value, Mapping) or not isinstance(value, Iterable):
            raise_error("PLUGIN_ERROR",
                        f"hook omega_configs of plugin {plugin_name!r} must return an iterable "
                        "of configs")
        out.extend(value)
    return out


def postprocess_result(result: RunResult) -> RunResult:
    """Passes a result through every ``omega_postprocess_result`` implementation."""
    pm = manager()
    if not pm.hook.omega_postprocess_result.get_hookimpls():
        return result
    from .run import RunResult

    for impl in pm.hook.omega_postprocess_result.get_hookimpls()[::-1]:
        try:
            new = impl.function(result=result)
        except Exception as exc:  # noqa: BLE001 - foreign code
            raise make_error("PLUGIN_ERROR",
                             f"hook omega_postprocess_result of plugin {impl.plugin_name!r} "
                             f"raised {type(exc).__name__}: {exc}") from exc
        if new is not None:
            if not isinstance(new, RunResult):
                raise_error("PLUGIN_ERROR",
                            f"hook omega_postprocess_result of plugin {impl.plugin_name!r} "
                            f"returned {type(new).__name__}, expected RunResult or None")
            result = new
    return result


def _reset_for_tests(hook: Callable[[], None] | None = None) -> None:
    """Drops every plugin (tests only); entry points load again on next use."""
    global _pm, _entry_points_loaded
    _pm = None
    _entry_points_loaded = False
    _sources.clear()
    if hook is not None:
        hook()
