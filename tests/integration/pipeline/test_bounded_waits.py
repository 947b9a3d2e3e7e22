"""Nothing waits on the database without a bound, and nothing the pipeline holds stops intake.

A frozen server (every PostgreSQL process stopped) cancels nothing itself: the client's own
deadline ends each call. A worker frozen or cut off inside a transaction holds only locks
that new orders do not wait for, and the server ends its session within seconds.
"""

from __future__ import annotations

import signal
import uuid

import psutil
import psycopg2
import pytest

from order_local import postgres
from order_platform import bootstrap
from order_platform.adapters.deadlines import DeadlineExceeded
from order_platform.adapters.unit_of_work import SqlUnitOfWork
from order_platform.entrypoints.write_api.app import create_app as create_write_app
from order_platform.processes import WORKER, WRITE_API, Endpoint
from tests.integration.pipeline.harness import wait_until
from tests.support.platform import free_port
from tests.support.tokens import bearer, client_with


@pytest.fixture
def frozen_server(tmp_path, pg_system_user):
    """A PostgreSQL of our own, and a way to stop (SIGSTOP) every one of its processes."""
    server = postgres.LocalPostgres(data_dir=tmp_path / "pg", port=free_port(),
                                    superuser_password=uuid.uuid4().hex,
                                    system_user=pg_system_user)
    proc = server.start()
    tree = []

    def freeze() -> None:
        root = psutil.Process(proc.pid)
        tree.extend([root, *root.children(recursive=True)])
        for p in tree:
            p.send_signal(signal.SIGSTOP)

    try:
        yield server, freeze
    finally:
        for p in tree:
            p.send_signal(signal.SIGCONT)
        postgres.stop(proc)


def test_a_frozen_server_costs_a_call_its_deadline_not_forever(frozen_server, settings):
    server, freeze = frozen_server
    creds = {"username": "postgres", "password": server.superuser_password}
    spec = bootstrap.PoolSpec(max_connections=2, statement_timeout_ms=500)
    runtime = bootstrap.start(WORKER, _settings_for(settings, server, creds),
                              pools={Endpoint.WRITER: spec})
    writer = runtime.database(Endpoint.WRITER)
    writer.ping()  # a pooled session, open before the freeze
    freeze()
    with pytest.raises(DeadlineExceeded):
        writer.ping()  # on the pooled session
    with pytest.raises(DeadlineExceeded):
        writer.ping()  # a new one: connecting is bounded too
    runtime.close()


def test_an_api_answers_503_while_its_database_is_frozen(frozen_server, settings):
    server, freeze = frozen_server
    creds = {"username": "postgres", "password": server.superuser_password}
    frozen_settings = _settings_for(settings, server, creds)
    runtime = bootstrap.start(WRITE_API, frozen_settings, pools={
        Endpoint.WRITER: bootstrap.PoolSpec(max_connections=2, statement_timeout_ms=500)})
    client = client_with(create_write_app(frozen_settings,
                                          database=runtime.database(Endpoint.WRITER)),
                         bearer(frozen_settings, "admin-1", "admin"))
    freeze()
    response = client.post("/products/ANY-SKU/stock", json={"mode": "add", "quantity": 1})
    assert response.status_code == 503
    assert response.json["error"]["details"] == {"limit": "client_deadline"}
    assert response.headers["Retry-After"]
    runtime.close()


def _settings_for(settings, server, creds):
    """The session's settings, pointed at ``server`` with a secret of its own."""
    import dataclasses

    import boto3

    sm = boto3.session.Session(region_name=settings.aws_region).client(
        "secretsmanager", endpoint_url=settings.aws_endpoint_url)
    arn = sm.create_secret(Name=f"frozen-{uuid.uuid4().hex[:8]}",
                           SecretString=f'{{"username": "{creds["username"]}", '
                                        f'"password": "{creds["password"]}"}}')["ARN"]
    return dataclasses.replace(settings, db_secret_arn=arn, db_writer_endpoint=server.host,
                               db_reader_endpoint=server.host, db_port=server.port,
                               db_name="postgres", db_ssl_root_cert=str(server.ca_file))


def test_a_worker_stalled_mid_deduction_does_not_stop_order_intake(pipeline):
    write_client = client_with(create_write_app(pipeline.settings),
                               bearer(pipeline.settings, f"c-{uuid.uuid4().hex[:6]}"))
    product = pipeline.add_product(stock=10)
    order_id = pipeline.place_order([(product, 2)])
    pipeline.query("UPDATE orders SET status = 'STOCK_VALIDATED' WHERE id = %s", (order_id,))
    worker = pipeline.database(size=1)
    stalled = SqlUnitOfWork(worker)
    uow = stalled.__enter__()
    try:
        # The worker holds the order and the product, and then stops answering.
        uow.processed_events.claim("stall-test", str(uuid.uuid4()), order_id)
        assert uow.products.deduct({product: 2})
        response = write_client.post("/orders", json={
            "items": [{"product_id": product, "quantity": 1}]})
        assert response.status_code == 202, response.json  # not a lock_timeout 503
    finally:
        stalled.__exit__(RuntimeError, RuntimeError("test over"), None)
        worker.close()


def test_a_session_left_idle_in_a_transaction_is_ended_and_its_locks_released(pipeline):
    product = pipeline.add_product(stock=10)
    runtime = bootstrap.start(WORKER, pipeline.settings, pools={
        Endpoint.WRITER: bootstrap.PoolSpec(max_connections=1,
                                            idle_in_transaction_timeout_ms=1_000)})
    writer = runtime.database(Endpoint.WRITER)
    cut_off = writer.session()
    session = cut_off.__enter__()
    try:
        pid = session.execute("SELECT pg_backend_pid() AS pid").one()["pid"]
        assert session.execute("UPDATE products SET stock = stock WHERE id = %s",
                               (product,)).rowcount == 1
        # The client goes quiet inside its transaction, holding the row: the server ends it.
        wait_until(lambda: not pipeline.query("SELECT 1 FROM pg_stat_activity WHERE pid = %s",
                                              (pid,)), timeout=30, what="the session ended")
        pipeline.query("UPDATE products SET stock = 11 WHERE id = %s", (product,))  # unblocked
        with pytest.raises(psycopg2.Error):
            session.commit()  # its commit finds the session gone
    finally:
        cut_off.__exit__(None, None, None)
        runtime.close()


def test_every_pool_of_every_process_has_all_its_limits(settings):
    from order_platform.processes import PROCESSES

    for proc in PROCESSES.values():
        for endpoint, spec in bootstrap.pool_specs(proc, settings).items():
            assert spec.statement_timeout_ms and spec.idle_in_transaction_timeout_ms, proc
            assert spec.deadline_seconds > spec.statement_timeout_ms / 1000, proc
            if endpoint is Endpoint.WRITER:
                assert spec.lock_timeout_ms, proc.role
