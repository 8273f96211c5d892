"""For the load-with-faults run (bench/load_faults.py): a PostgreSQL cluster that can be stopped and started
again, either a private throwaway one or the machine's own."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench import harness


def _as_postgres(cmd: list[str]) -> list[str]:
    return (["runuser", "-u", "postgres", "--"] + cmd) if os.geteuid() == 0 else cmd


class PrivatePostgres:
    """A throwaway cluster under /tmp on its own port: restarting it disturbs nobody."""

    def __init__(self):
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: float(p.parent.name))[-1]
        self.dir = Path(tempfile.mkdtemp(prefix="perf_load_pg_"))
        self.data = self.dir / "data"
        self.port = harness.free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/perf_load"

    def _run(self, *args: str) -> None:
        subprocess.run(_as_postgres([str(self.bin / args[0]), *args[1:]]), check=True, capture_output=True)  # noqa: S603

    def setup(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "perf_load")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.dir / "log"), "-w", "-o",
                  f"-k /tmp -h 127.0.0.1 -p {self.port} -c max_connections=100", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def finish(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class SystemPostgres:
    """The machine's own cluster (pg_ctlcluster): always left running at the end."""

    def __init__(self):
        self.version = sorted(os.listdir("/etc/postgresql"), key=float)[-1]
        self.url = "postgresql://postgres@127.0.0.1:5432/perf_load"

    def _ctl(self, action: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version, "main", action],  # noqa: S603,S607
                       check=True, capture_output=True)

    def setup(self) -> None:
        harness.create_postgres_database(self.url)

    def start(self) -> None:
        self._ctl("start")

    def stop(self) -> None:
        self._ctl("stop")

    def finish(self) -> None:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"], check=False).returncode != 0:  # noqa: S603,S607
            self.start()

