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
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from order_local import cache_server, emulator, identity, machine, postgres, provision
from order_local.ports import Ports
from order_platform import launch
from order_platform.adapters.schema import apply_migrations
from order_platform.processes import DEPLOYED, READ_API, WRITE_API

APP_ROLE = "orders_app"
APP_DB = "orders"
LOCAL_POLL_WAIT_SECONDS = 3
STOP_GRACE_SECONDS = max(p.termination_grace_seconds for p in DEPLOYED)
"""Like a pod's termination grace: time to finish in-flight work before SIGKILL."""

DEMO_PRODUCTS = (
    {"sku": "KB-001", "name": "Mechanical keyboard", "price_cents": 8900, "stock": 25},
    {"sku": "MS-002", "name": "Wireless mouse", "price_cents": 2900, "stock": 50},
    {"sku": "MN-003", "name": "27-inch monitor", "price_cents": 27900, "stock": 10},
    {"sku": "HD-004", "name": "Noise-cancelling headset", "price_cents": 15900, "stock": 5},
    {"sku": "CB-005", "name": "USB-C cable", "price_cents": 900, "stock": 200},
)


@dataclass
class Backing:
    """The running backing services and the config contract built on them."""

    pg: subprocess.Popen
    pg_reader: subprocess.Popen
    aws: subprocess.Popen
    contract: dict[str, str]
    writer: postgres.LocalPostgres
    reader: postgres.LocalPostgres
    cache: subprocess.Popen
    identity: identity.LocalIdentity
    """The user pool: tokens for seeding, the chaos load and the tests."""

    def stop(self) -> None:
        """Stop the cache and the emulator, then the reader, then the writer."""
        cache_server.stop(self.cache)
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
                  pg_system_user: str = machine.DEFAULT_SYSTEM_USER,
                  writer_settings: dict[str, str] | None = None) -> Backing:
    """Start PostgreSQL (writer and streaming reader), the emulator and the product cache;
    create role, database, secret and topology; migrate. ``writer_settings`` are extra
    settings of the writer (a benchmark's statistics)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    writer = postgres.LocalPostgres(
        data_dir=data_dir / "pgdata", port=ports.postgres,
        superuser_password=_secret_file(data_dir / "pg-superuser.password"),
        system_user=pg_system_user, settings=dict(writer_settings or {}),
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
        cache = cache_server.start(ports.cache, data_dir / "cache", data_dir / "cache.log")
        on_failure.callback(cache_server.stop, cache)
        # Roles, databases and schema are made on the writer only and replicate, as on Aurora.
        app_password = _secret_file(data_dir / "app.password")
        writer.ensure_role_and_database(role=APP_ROLE, password=app_password, dbname=APP_DB)
        applied = apply_migrations(host=writer.host, port=writer.port, dbname=APP_DB,
                                   user=APP_ROLE, password=app_password,
                                   ssl_root_cert=str(writer.ca_file))
        print(f"local: migrations applied: {', '.join(applied) or 'none pending'}", flush=True)
        # The read API logs in to the reader as soon as it starts: the role must be there.
        reader.wait_caught_up(pg_reader)
        print(f"local: reader {reader.host}:{reader.port} is a streaming replica of "
              f"{writer.host}:{writer.port}, caught up", flush=True)
        aws_env = provision.LocalAws(endpoint_url=f"http://127.0.0.1:{ports.aws}")
        contract = {
            **provision.provision_contract(aws_env, db_port=ports.postgres, db_name=APP_DB,
                                           db_user=APP_ROLE, db_password=app_password,
                                           db_ssl_root_cert=str(writer.ca_file),
                                           db_reader_host=reader.host),
            "READ_API_URL": ports.url(READ_API.role),
            "CACHE_URL": cache_server.url(ports.cache),
        }
        users = identity.build_identity(aws_env)  # made by provisioning: found again
        on_failure.pop_all()
    (data_dir / "contract.env").write_text(
        "".join(f"{k}={shlex.quote(v)}\n" for k, v in sorted(contract.items())))
    return Backing(pg=pg, pg_reader=pg_reader, aws=aws, contract=contract, writer=writer,
                   reader=reader, cache=cache, identity=users)


def service_commands(ports: Ports) -> dict[str, tuple[str, dict[str, str]]]:
    """Each process of the catalogue that runs continuously: its shell command and its extra
    environment, keyed by role, as the image's entrypoint would start it."""
    commands = {}
    for proc in DEPLOYED:
        env = launch.environment(proc)
        if proc.health_port is not None:
            env["HEALTH_PORT"] = str(ports[proc.role])
        if proc.consumes:
            # A shorter long poll than the cloud's 20 s only so Ctrl-C returns quickly: the
            # worker finishes its current poll before it exits. Messages still arrive at once.
            env["WORKER_POLL_WAIT_SECONDS"] = str(LOCAL_POLL_WAIT_SECONDS)
        argv = launch.command(proc, host="127.0.0.1", port=ports[proc.role])
        commands[proc.role] = (f"exec {shlex.join(argv)}", env)
    return commands


def _request(method: str, url: str, body: dict | None = None,
             token: str | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json",
               **({"Authorization": f"Bearer {token}"} if token else {})}
    req = urllib.request.Request(url, data=data, method=method,  # noqa: S310
                                 headers=headers)
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


def seed_demo_products(write_api: str, admin_token: str) -> list[str]:
    """Create the demo catalogue through the write API, as an admin; existing SKUs are left as
    they are."""
    created: list[str] = []
    for product in DEMO_PRODUCTS:
        status, body = _request("POST", f"{write_api}/products", product, admin_token)
        if status == 201:
            created.append(str(product["sku"]))
        elif status != 409:
            raise RuntimeError(f"seeding {product['sku']} failed: {status} {body}")
    return created


def banner(ports: Ports) -> str:
    """What to try first, printed once everything is up."""
    w, r = ports.url(WRITE_API.role), ports.url(READ_API.role)
    pg_writer = f"{postgres.WRITER_HOST}:{ports.postgres}"
    pg_reader = f"{postgres.READER_HOST}:{ports.postgres}"
    # Every process serves /metrics on its API or health port (the catalogue's probe port).
    metrics = "\n".join(f"  {p.role:<10} {ports.url(p.role)}/metrics" for p in DEPLOYED)
    return f"""
order-platform is up.
  write API  {w}   (Swagger UI: {w}/docs)
  read API   {r}   (Swagger UI: {r}/docs)
  AWS emulator http://127.0.0.1:{ports.aws}
  product cache {cache_server.url(ports.cache)} (redis-server; evicted by the worker)
  PostgreSQL {pg_writer} (writer), {pg_reader} (reader: a streaming replica)

Place an order as alice, then watch it reach CONFIRMED:
  TOKEN=$(make -s token CUSTOMER=alice)
  curl -si -X POST {w}/orders -H "Authorization: Bearer $TOKEN" \\
       -H 'Content-Type: application/json' -d '{{"items": [{{"sku": "KB-001", "quantity": 1}}]}}'
  curl -s {r}/orders/<order id from the response> -H "Authorization: Bearer $TOKEN"
  curl -s {r}/products
Watch it: make top (a live view), make load (a bounded load test), and the metrics:
{metrics}
Ctrl-C stops everything.
"""
