"""The local platform: backing services, provisioning, and the service processes.

The order matters: PostgreSQL and the AWS emulator must answer before the topology
and the secret can be built, and the services read the config contract that
provisioning returns, just as pods read the ConfigMap Pulumi fills from outputs.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from order_platform.adapters.schema import apply_migrations
from order_platform.localplatform import emulator, machine, postgres, provision

APP_ROLE = "orders_app"
APP_DB = "orders"
SERVICES_DIR = Path(__file__).resolve().parents[2]
GUNICORN_CONF = SERVICES_DIR / "gunicorn.conf.py"
LOCAL_POLL_WAIT_SECONDS = 3
STOP_GRACE_SECONDS = 25
"""Like a pod's termination grace: time to finish in-flight work before SIGKILL."""

DEMO_PRODUCTS = (
    {"sku": "KB-001", "name": "Mechanical keyboard", "price_cents": 8900, "stock": 25},
    {"sku": "MS-002", "name": "Wireless mouse", "price_cents": 2900, "stock": 50},
    {"sku": "MN-003", "name": "27-inch monitor", "price_cents": 27900, "stock": 10},
    {"sku": "HD-004", "name": "Noise-cancelling headset", "price_cents": 15900, "stock": 5},
    {"sku": "CB-005", "name": "USB-C cable", "price_cents": 900, "stock": 200},
)


def _port(default: int, what: str, hosts: tuple[str, ...] = (postgres.WRITER_HOST,)) -> int:
    return field(default=default, metadata={"what": what, "hosts": hosts})


@dataclass(frozen=True)
class Ports:
    """Every port the local platform listens on (all on 127.0.0.1; the reader on 127.0.0.2)."""

    postgres: int = _port(54329, "PostgreSQL (the writer on 127.0.0.1, the reader on 127.0.0.2)",
                          (postgres.WRITER_HOST, postgres.READER_HOST))
    aws: int = _port(4566, "the AWS emulator")
    write_api: int = _port(3000, "the write API")
    read_api: int = _port(3001, "the read API")
    worker_health: int = _port(8081, "the worker's health probes")
    relay_health: int = _port(8082, "the relay's health probes")

    @staticmethod
    def flag(name: str) -> str:
        """The ``order-local up`` option that moves the port of field ``name``."""
        return f"--{name.replace('_', '-')}-port"


@dataclass
class Backing:
    """The running backing services and the config contract built on them."""

    pg: subprocess.Popen
    pg_reader: subprocess.Popen
    aws: subprocess.Popen
    contract: dict[str, str]

    def stop(self) -> None:
        """Stop the emulator, then the reader, then the writer."""
        emulator.stop(self.aws)
        postgres.stop(self.pg_reader)
        postgres.stop(self.pg)


def _secret_file(path: Path) -> str:
    """A random password kept in ``path`` so the data directory stays usable across runs."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(24))
        path.chmod(0o600)
    return path.read_text().strip()


def start_backing(data_dir: Path, ports: Ports,
                  pg_system_user: str = machine.DEFAULT_SYSTEM_USER) -> Backing:
    """Start PostgreSQL (writer and streaming reader) and the emulator; create role, database,
    secret and topology; migrate."""
    data_dir.mkdir(parents=True, exist_ok=True)
    writer = postgres.LocalPostgres(
        data_dir=data_dir / "pgdata", port=ports.postgres,
        superuser_password=_secret_file(data_dir / "pg-superuser.password"),
        system_user=pg_system_user,
    )
    reader = writer.replica(data_dir / "pgdata-reader")
    # Whatever started is stopped again, in reverse order, if a later step fails.
    with contextlib.ExitStack() as on_failure:
        pg = writer.start()
        on_failure.callback(postgres.stop, pg)
        pg_reader = reader.start()
        on_failure.callback(postgres.stop, pg_reader)
        aws = emulator.start(ports.aws, str(data_dir / "moto.log"))
        on_failure.callback(emulator.stop, aws)
        # Roles, databases and schema are made on the writer only and replicate, as on Aurora.
        app_password = _secret_file(data_dir / "app.password")
        writer.ensure_role_and_database(role=APP_ROLE, password=app_password, dbname=APP_DB)
        applied = apply_migrations(host=writer.host, port=writer.port, dbname=APP_DB,
                                   user=APP_ROLE, password=app_password)
        print(f"local: migrations applied: {', '.join(applied) or 'none pending'}", flush=True)
        # The read API logs in to the reader as soon as it starts: the role must be there.
        reader.wait_caught_up(pg_reader)
        print(f"local: reader {reader.host}:{reader.port} is a streaming replica of "
              f"{writer.host}:{writer.port}, caught up", flush=True)
        aws_env = provision.LocalAws(endpoint_url=f"http://127.0.0.1:{ports.aws}")
        contract = {
            **provision.provision_contract(aws_env, db_port=ports.postgres, db_name=APP_DB,
                                           db_user=APP_ROLE, db_password=app_password,
                                           db_reader_host=reader.host),
            "READ_API_URL": f"http://127.0.0.1:{ports.read_api}",
        }
        on_failure.pop_all()
    (data_dir / "contract.env").write_text(
        "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(contract.items())))
    return Backing(pg=pg, pg_reader=pg_reader, aws=aws, contract=contract)


def service_commands(ports: Ports) -> dict[str, tuple[str, dict[str, str]]]:
    """Each service's shell command and its extra environment, keyed by process name."""
    python = shlex.quote(sys.executable)
    bindir = Path(sys.executable).parent
    conf = shlex.quote(str(GUNICORN_CONF))

    def gunicorn(app: str, port: int) -> str:
        return (f"exec {python} -m gunicorn -c {conf} --bind 127.0.0.1:{port} "
                f"'order_platform.entrypoints.{app}.app:create_app()'")

    return {
        "write-api": (gunicorn("write_api", ports.write_api), {}),
        "read-api": (gunicorn("read_api", ports.read_api), {}),
        # A shorter long poll than the cloud's 20 s only so Ctrl-C returns quickly: the
        # worker finishes its current poll before it exits. Messages still arrive at once.
        "worker": (f"exec {shlex.quote(str(bindir / 'order-worker'))}",
                   {"HEALTH_PORT": str(ports.worker_health),
                    "WORKER_POLL_WAIT_SECONDS": str(LOCAL_POLL_WAIT_SECONDS)}),
        "relay": (f"exec {shlex.quote(str(bindir / 'order-relay'))}",
                  {"HEALTH_PORT": str(ports.relay_health)}),
    }


def _request(method: str, url: str, body: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,  # noqa: S310
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def wait_healthy(url: str, timeout: float = 90) -> None:
    """Poll ``url`` until it answers 200."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if _request("GET", url)[0] == 200:
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not healthy after {timeout}s")
        time.sleep(0.2)


def seed_demo_products(write_api: str) -> list[str]:
    """Create the demo catalogue through the write API; existing SKUs are left as they are."""
    created = []
    for product in DEMO_PRODUCTS:
        status, body = _request("POST", f"{write_api}/products", product)
        if status == 201:
            created.append(product["sku"])
        elif status != 409:
            raise RuntimeError(f"seeding {product['sku']} failed: {status} {body}")
    return created


def banner(ports: Ports) -> str:
    """What to try first, printed once everything is up."""
    w, r = f"http://127.0.0.1:{ports.write_api}", f"http://127.0.0.1:{ports.read_api}"
    pg_writer = f"{postgres.WRITER_HOST}:{ports.postgres}"
    pg_reader = f"{postgres.READER_HOST}:{ports.postgres}"
    return f"""
order-platform is up.
  write API  {w}   (OpenAPI: {w}/openapi.json)
  read API   {r}   (OpenAPI: {r}/openapi.json)
  AWS emulator http://127.0.0.1:{ports.aws}
  PostgreSQL {pg_writer} (writer), {pg_reader} (reader: a streaming replica)

Place an order, then watch it reach CONFIRMED:
  curl -si -X POST {w}/orders -H 'Content-Type: application/json' \\
       -d '{{"customer_id": "alice", "items": [{{"sku": "KB-001", "quantity": 1}}]}}'
  curl -s {r}/orders/<order id from the response>
  curl -s {r}/products
Ctrl-C stops everything.
"""
