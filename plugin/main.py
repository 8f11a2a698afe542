"""Dispatch one plugin run: a hook, a task, or the detached drainer.

The hook branch imports only the standard library; tasks and the drainer import the
heavy clients lazily, after the dependency check can still answer with a clear error.
"""

from __future__ import annotations

import sys

from plugin import stashlog
from plugin.datadir import DATA_DIR_ENV, resolve_data_dir
from plugin.protocol import ProtocolError, parse_input, reply
from plugin.spawn import DRAIN_FLAG


def read_stdin() -> str:
    data = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
    return data.decode("utf-8", errors="replace")


def answer(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def main(argv: "list[str]", script: str) -> int:
    raw = read_stdin()
    if DRAIN_FLAG in argv:
        from plugin import background_drainer as drainer  # deliberately lazy: only the drainer needs the clients

        return drainer.main(raw)
    try:
        request = parse_input(raw)
    except ProtocolError as exc:
        stashlog.emit("error", f"Stash2Plex: {exc}")
        answer(reply(error=str(exc)))
        return 0
    data_dir = resolve_data_dir(request.server_connection)
    if request.hook is not None:
        from plugin import hook

        launch = {"script": script, "data_dir": data_dir, "server_connection": request.server_connection}
        try:
            result = hook.handle(request.hook, data_dir, launch)
        except hook.HookFailed as exc:
            message = str(exc)
        except OSError as exc:  # the data folder itself is unusable
            message = f"could not queue scene {request.hook.scene_id} in {data_dir}: {exc}"
        else:
            answer(reply(result))
            return 0
        stashlog.emit("error", f"Stash2Plex: {message}")
        answer(reply(error=message))
        return 0
    answer(stashlog.redact(run_task_process(request, data_dir, script)))
    return 0


def run_task_process(request, data_dir: str, script: str) -> str:
    """Run a task button; every expected failure becomes a one-line `error`."""
    from plugin.logsetup import setup_stash_logging

    log = setup_stash_logging()
    from plugin.deps import missing_dependencies_message

    problem = missing_dependencies_message(request.server_connection.get("PluginDir") or "")
    if problem:
        return _failed(log, problem)
    # Deliberately lazy: keeps plexapi, stashapi and pydantic off the hook path.
    from plugin import spawn
    from tasks.dispatch import TaskFailed, run_task
    from worker.composition_root import App

    try:
        app = App(request.server_connection, data_dir)
    except OSError as exc:
        return _failed(log, f"cannot use the data folder {data_dir} ({exc.strerror or exc}); "
                            f"check its permissions or set {DATA_DIR_ENV}")
    launch = {"script": script, "data_dir": data_dir, "server_connection": request.server_connection}
    try:
        _use_settings(app, request.server_connection)
        result = run_task(app, request.mode, request.args, stashlog.progress, lambda: spawn.start_drainer(launch))
        return reply(result)
    except TaskFailed as exc:
        return _failed(log, str(exc))
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, no traceback
        return reply(error=_unexpected(exc, request.mode, data_dir, log))
    finally:
        app.close()


def _failed(log, message: str) -> str:
    log.error("%s", message)
    return reply(error=message)


def _use_settings(app, server_connection: dict) -> None:
    """Keep the secrets out of every log line and apply the log settings, when they can be read."""
    from plugin import log_secrets
    from plugin.logsetup import reconfigure

    log_secrets.hide_connection_secrets(server_connection)
    try:
        settings = app.settings
        log_secrets.hide_setting_secrets(settings)
        reconfigure(settings.debug_logging, settings.obfuscate_paths)
    except Exception:  # noqa: BLE001 - a task like Queue Status works without settings
        pass


def _unexpected(exc: Exception, mode: str, data_dir: str, log) -> str:
    """The one line for a failure no task expected; storage trouble in plain words, not a class name."""
    from sync_queue.storage import plain_words

    words = plain_words(exc, data_dir)
    if words is not None:  # locked, full, read-only, damaged
        message = f"{words}; every queued job is kept. Run the task again once that is fixed."
        log.error("%s", message)
        return message
    log.error("unexpected error in task %s: %s: %s", mode, type(exc).__name__, exc)
    log.debug("details", exc_info=True)
    return f"unexpected error: {type(exc).__name__}: {exc}"
