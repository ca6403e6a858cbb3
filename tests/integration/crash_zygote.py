"""A fork server for crash tests: imports the app once, then forks one ``cts-desktop`` process per
request, so that a hundred kills do not cost a hundred interpreter starts (about 3 s each here).

Each child is a real separate process running ``cts_desktop.cli.main.main(argv)`` (what
``cts-desktop ARGS`` runs), with its stdout and stderr in the files named in the request. Nothing
has started a thread, an event loop or a keyring connection before the fork.

Protocol on stdin/stdout, one JSON object per line:
``{"start": [argv...], "out": path, "err": path}`` -> ``{"pid": N}``;
``{"poll": N}`` -> ``{"status": S}`` (S: exit code, minus the signal number when killed, or null
while it runs); ``{"wait": N}`` -> ``{"status": S}`` (blocks).
"""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import cts_desktop.cli.main as cli_main  # noqa: F401 - the imports the children share
import cts_desktop.engine.live  # noqa: F401
import cts_desktop.services  # noqa: F401


def _status(st: int) -> int:
    return -os.WTERMSIG(st) if os.WIFSIGNALED(st) else os.WEXITSTATUS(st)


def _child(argv, out, err) -> None:
    fd_out = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    fd_err = os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd_out, 1)
    os.dup2(fd_err, 2)
    os.close(0)
    code = 70
    try:
        code = cli_main.main(argv)
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def serve() -> None:
    ended = {}  # pid -> status, once reaped
    for line in sys.stdin:
        req = json.loads(line)
        if "start" in req:
            pid = os.fork()
            if pid == 0:
                _child(req["start"], req["out"], req["err"])
            reply = {"pid": pid}
        else:
            pid = req.get("poll") or req["wait"]
            if pid not in ended:
                done, st = os.waitpid(pid, os.WNOHANG if "poll" in req else 0)
                if done:
                    ended[pid] = _status(st)
            reply = {"status": ended.get(pid)}
        print(json.dumps(reply), flush=True)


class Zygote:
    """The test side of the fork server: each :meth:`start` is a new ``cts-desktop`` process;
    ``logs``: a directory for their output."""

    def __init__(self, logs):
        self.logs = logs
        repo = Path(__file__).resolve().parents[2]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(repo), os.environ.get("PYTHONPATH")]))}
        self.proc = subprocess.Popen([sys.executable, str(Path(__file__))], cwd=repo, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lock = threading.Lock()
        self.n = 0

    def _ask(self, req):
        with self.lock:
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            return json.loads(self.proc.stdout.readline())

    def start(self, args):
        """Start ``cts-desktop ARGS``; returns ``(pid, stdout file, stderr file)``."""
        with self.lock:
            self.n += 1
            out, err = self.logs / f"{self.n}.out", self.logs / f"{self.n}.err"
        return self._ask({"start": args, "out": str(out), "err": str(err)})["pid"], out, err

    def poll(self, pid):
        return self._ask({"poll": pid})["status"]

    def wait(self, pid):
        return self._ask({"wait": pid})["status"]

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(10)


if __name__ == "__main__":
    serve()
