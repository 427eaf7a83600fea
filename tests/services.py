"""Real services for tests, each a separate process on 127.0.0.1: a moto S3 server and a Dask cluster.

    with S3Server() as s3:                      # IAM-enforcing: only s3.env()'s keys are accepted
        s3.make_bucket("store")
        os.environ.update(s3.env())             # s3fs.S3FileSystem(skip_instance_cache=True) now reaches it
    with DaskCluster(workers=2, env=s3.env()) as cluster:
        client = cluster.client()
        cluster.kill_worker(0)                  # SIGKILL one worker; the other carries on

Every process runs in its own session (process group) and is stopped by `stop()`, by the context manager,
by the pytest fixtures in service_fixtures.py, and at interpreter exit (atexit); on Linux a service also
gets SIGKILL when the thread that started it dies (PR_SET_PDEATHSIG), and Dask workers exit on their own
60 s after losing their scheduler (--death-timeout). A process that fails to start raises ServiceError with
its command line and the tail of its output.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = ["DaskCluster", "S3Server", "ServiceError", "free_port"]

HOST = "127.0.0.1"
REGION = "us-east-1"
ALLOW_ALL = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
_LIVE: weakref.WeakSet[Any] = weakref.WeakSet()  # every started service, stopped at exit


class ServiceError(RuntimeError):
    """A service process did not start (or not in time); the message holds its command and output tail."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (a race with other processes is possible, hence retries)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _script(name: str, module: str) -> list[str]:
    """The console script `name` next to this interpreter, or `python -m module` when it is missing."""
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    return [found] if found else [sys.executable, "-m", module]


def _die_with_parent() -> Callable[[], None] | None:
    """preexec_fn: SIGKILL the child when the starting thread dies (Linux only; only safe from the main thread)."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not threading.main_thread():
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def preexec() -> None:
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG (SIGTERM can leave a dask worker hung in its close())
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


class _Proc:
    """One child process: its own session, output (stdout+stderr) to a log file, stopped by process group."""

    def __init__(self, name: str, argv: Sequence[str], *, log: Path, env: Mapping[str, str] | None = None, cwd: Path | None = None):
        self.name, self.argv, self.log = name, list(argv), log
        self._log_file: IO[bytes] = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            self.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            start_new_session=True,
            preexec_fn=_die_with_parent(),
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return "<no output>"
        return "\n".join(text.splitlines()[-lines:]) or "<no output>"

    def failure(self, what: str) -> ServiceError:
        state = "still running" if self.alive() else f"exited with code {self.popen.returncode}"
        return ServiceError(
            f"{self.name} {what} ({state}).\ncommand: {' '.join(self.argv)}\n--- output tail ({self.log}) ---\n{self.tail()}"
        )

    def signal(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)  # the session's group: the process and anything it started

    def stop(self, grace: float = 5.0) -> None:
        if self.alive():
            self.signal(signal.SIGTERM if grace else signal.SIGKILL)
            try:
                self.popen.wait(grace or 5.0)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.popen.wait(5.0)
        self.signal(signal.SIGKILL)  # leftovers in the group (the leader may have exited first)
        self._log_file.close()


def _wait(until: Callable[[], bool], proc: _Proc, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not until():
        if not proc.alive():
            raise proc.failure(f"exited before {what}")
        if time.monotonic() > deadline:
            raise proc.failure(f"did not {what} within {timeout:.0f} s")
        time.sleep(0.05)


class _Service:
    """Start/stop bookkeeping shared by the services: a scratch dir for logs, atexit registration, `with` support."""

    stop_grace = 5.0  # seconds between SIGTERM and SIGKILL in stop(); 0: SIGKILL at once

    def __init__(self, root: Path | None):
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix=f"{type(self).__name__.lower()}-")) if root is None else Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self._procs: list[_Proc] = []
        self.stopped = False

    def _spawn(self, name: str, argv: Sequence[str], **kwargs: Any) -> _Proc:
        proc = _Proc(name, argv, log=self.root / f"{name}.log", **kwargs)
        self._procs.append(proc)
        _LIVE.add(self)
        return proc

    def stop(self) -> None:
        """Stop every process of this service (SIGTERM, SIGKILL after stop_grace s; SIGKILL at once if 0); idempotent."""
        if self.stopped:
            return
        self.stopped = True
        for proc in reversed(self._procs):  # all at once, then wait for each
            proc.signal(signal.SIGTERM if self.stop_grace else signal.SIGKILL)
        for proc in reversed(self._procs):
            proc.stop(self.stop_grace)
        _LIVE.discard(self)
        if self._own_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.stop()


@atexit.register
def _stop_all() -> None:
    for service in list(_LIVE):
        with contextlib.suppress(Exception):
            service.stop()


# --------------------------------------------------------------------------------------------------- S3 (moto)


class S3Server(_Service):
    """`moto_server -H 127.0.0.1 -p PORT`; with auth=True (the default) it enforces IAM credentials.

    Auth: the server starts open (moto's INITIAL_NO_AUTH_ACTION_COUNT defaults to infinity), an IAM user with an
    allow-all inline policy and an access key is created, then POST /moto-api/reset-auth with "0" switches
    enforcement on for every later request: a request must be signed by that key (moto recomputes the SigV4
    signature: a wrong secret gives SignatureDoesNotMatch, an unknown key id InvalidAccessKeyId) and be allowed
    by the user's policies. With auth=False any key is accepted.
    """

    def __init__(self, *, auth: bool = True, root: Path | None = None, startup_timeout: float = 30.0, attempts: int = 3):
        super().__init__(root)
        self.auth = auth
        self.port = 0
        self.access_key_id = "testing"
        self.secret_access_key = "testing"
        self.startup_seconds = float("nan")
        t0 = time.monotonic()
        try:
            self._start(startup_timeout, attempts)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0

    @property
    def endpoint(self) -> str:
        return f"http://{HOST}:{self.port}"

    def env(self, *, access_key_id: str | None = None, secret_access_key: str | None = None) -> dict[str, str]:
        """The AWS settings for os.environ or a subprocess env (pass a wrong key or secret to test rejection)."""
        return {
            "AWS_ACCESS_KEY_ID": access_key_id or self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": secret_access_key or self.secret_access_key,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",  # never wait on the instance-metadata endpoint for credentials
        }

    def client(self, service: str = "s3", **env_overrides: str):
        """A boto3 client for this server (credentials passed explicitly; no os.environ needed)."""
        import boto3

        env = self.env(**env_overrides)
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )

    def make_bucket(self, name: str) -> str:
        """Create bucket `name` (S3 rules: 3-63 lowercase letters, digits, dots, hyphens); returns the name."""
        self.client().create_bucket(Bucket=name)
        return name

    def _start(self, timeout: float, attempts: int) -> None:
        for attempt in range(attempts):
            self.port = free_port()
            env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = "inf"  # open until reset-auth below, whatever the caller's environment says
            proc = self._spawn(f"moto-{attempt}", [*_script("moto_server", "moto.server"), "-H", HOST, "-p", str(self.port)], env=env)
            try:
                _wait(self._answers, proc, timeout, f"answer HTTP on {self.endpoint}")
                break
            except ServiceError:
                if proc.alive() or "in use" not in proc.tail() or attempt == attempts - 1:
                    raise  # anything but a lost port race
        if self.auth:
            self._enforce_credentials()

    def _answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1).close()
        except urllib.error.HTTPError:
            return True  # any HTTP answer will do
        except OSError:
            return False
        return True

    def _enforce_credentials(self) -> None:
        iam = self.client("iam")
        iam.create_user(UserName="filterspeak-tests")
        iam.put_user_policy(UserName="filterspeak-tests", PolicyName="allow-all", PolicyDocument=ALLOW_ALL)
        key = iam.create_access_key(UserName="filterspeak-tests")["AccessKey"]
        self.access_key_id, self.secret_access_key = key["AccessKeyId"], key["SecretAccessKey"]
        request = urllib.request.Request(
            f"{self.endpoint}/moto-api/reset-auth", data=b"0", method="POST", headers={"Content-Type": "text/plain"}
        )
        # (not form-encoded: moto reads the raw body, which werkzeug would consume as a form)
        urllib.request.urlopen(request, timeout=10).close()  # from now on every request is authenticated


# --------------------------------------------------------------------------------------------------- Dask

WorkerEnv = Sequence[Mapping[str, str]] | Callable[[int, Path], Mapping[str, str]] | None


class DaskCluster(_Service):
    """A `dask scheduler` and `workers` x `dask worker` processes (1 thread each) on 127.0.0.1.

    Each worker runs with cwd = its own fresh directory `worker_dirs[i]` (outside the repository) and
    env = os.environ + `env` + `worker_env` (a list of dicts, one per worker, or a function (i, worker_dir) -> dict).
    Workers run without a nanny by default: the process started is the worker, so SIGKILL really removes it and
    the cluster carries on with the others (with nanny=True the nanny restarts it, with a new pid; and a nanny's
    worker is a daemonic process, which cannot start multiprocessing children unless distributed.worker.daemon is
    False). The workers cannot import the test modules (tests/ is not on their path): functions sent to them must
    live in an installed package, or be lambdas / nested functions (sent by value). distributed tries plain pickle
    first, so a module-level test function goes by reference even after cloudpickle.register_pickle_by_value.
    `scheduler_config` adds dask config to the scheduler as DASK_* variables, e.g.
    {"distributed.scheduler.allowed-failures": 5}.
    """

    def __init__(
        self,
        workers: int = 2,
        *,
        env: Mapping[str, str] | None = None,
        worker_env: WorkerEnv = None,
        nanny: bool = False,
        nthreads: int = 1,
        scheduler_config: Mapping[str, Any] | None = None,
        root: Path | None = None,
        startup_timeout: float = 60.0,
    ):
        super().__init__(root)
        self.n = workers
        self.nanny = nanny
        self.address = ""
        self.worker_dirs: list[Path] = []
        self._workers: list[_Proc] = []
        self._client = None
        self.startup_seconds = float("nan")
        t0 = time.monotonic()
        try:
            self._start(env or {}, worker_env, nthreads, scheduler_config or {}, startup_timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0

    def _start(self, env: Mapping[str, str], worker_env: WorkerEnv, nthreads: int, config: Mapping[str, Any], timeout: float) -> None:
        base = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        sched_env = dict(base)
        for key, value in config.items():
            sched_env["DASK_" + key.replace(".", "__").replace("-", "_").upper()] = str(value)
        sched_file = self.root / "scheduler.json"
        dask = _script("dask", "distributed.cli.dask")
        # --port 0 + --scheduler-file: the scheduler picks its own port and writes its address (no port race)
        sched = self._spawn(
            "scheduler",
            [*dask, "scheduler", "--host", HOST, "--port", "0", "--no-dashboard", "--scheduler-file", str(sched_file)],
            env=sched_env,
            cwd=self.root,
        )
        _wait(lambda: self._read_address(sched_file), sched, timeout, "write its scheduler file")
        for i in range(self.n):
            wdir = self.root / f"worker-{i}"
            wdir.mkdir()
            self.worker_dirs.append(wdir)
            extra = worker_env(i, wdir) if callable(worker_env) else (worker_env[i] if worker_env else {})
            argv = [*dask, "worker", self.address, "--name", f"worker-{i}", "--host", HOST, "--nthreads", str(nthreads)]
            argv += ["--nworkers", "1", "--no-dashboard", "--local-directory", str(wdir / "dask-scratch"), "--death-timeout", "60"]
            argv += [] if self.nanny else ["--no-nanny"]
            self._workers.append(self._spawn(f"worker-{i}", argv, env={**base, **extra}, cwd=wdir))
        client = self.client()
        deadline = time.monotonic() + timeout
        while len(client.scheduler_info(n_workers=-1)["workers"]) < self.n:
            for proc in [sched, *self._workers]:
                if not proc.alive():
                    raise proc.failure(f"exited before {self.n} workers connected")
            if time.monotonic() > deadline:
                raise self._workers[0].failure(
                    f"cluster: only {len(client.scheduler_info(n_workers=-1)['workers'])}/{self.n} workers within {timeout:.0f} s"
                )
            with contextlib.suppress(TimeoutError, OSError):
                client.wait_for_workers(self.n, timeout=0.5)

    def _read_address(self, path: Path) -> bool:
        try:
            self.address = json.loads(path.read_text())["address"]
        except (OSError, ValueError, KeyError):
            return False
        return True

    def client(self):
        """A distributed.Client connected to the scheduler (one per cluster, closed by stop())."""
        if self._client is None:
            from distributed import Client

            self._client = Client(self.address, timeout=30, set_as_default=False)
        return self._client

    def scheduler_workers(self) -> dict[str, dict[str, Any]]:
        """Connected workers, by name: {"worker-0": {"address": ..., "pid": ...}, ...} (pid as the worker reports it)."""
        client = self.client()
        pids = client.run(os.getpid, on_error="ignore")
        info = client.scheduler_info(n_workers=-1)["workers"]
        return {str(w["name"]): {"address": addr, "pid": pids.get(addr)} for addr, w in info.items()}

    def worker_pids(self) -> list[int]:
        """The worker process pid of worker i, for each i (without a nanny: the process started; with one: as reported)."""
        if not self.nanny:
            return [p.pid for p in self._workers]
        connected = self.scheduler_workers()
        return [connected[f"worker-{i}"]["pid"] for i in range(self.n)]

    def kill_worker(self, i: int, sig: int = signal.SIGKILL) -> int:
        """Send `sig` (SIGKILL) to worker i's worker process; returns its pid."""
        pid = self.worker_pids()[i]
        os.kill(pid, sig)
        return pid

    stop_grace = 0.0  # SIGKILL: a worker and its scheduler closing at once can hang in close(); nothing to save

    def stop(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close(timeout=5)
            self._client = None
        super().stop()
