"""The few statements the local platform runs as a server's superuser, outside any service."""

from __future__ import annotations

import psycopg2


def scalar(dsn: dict, sql: str, params: tuple = ()) -> object:
    """The first column of the first row of ``sql`` (autocommit), or None without a row."""
    conn = psycopg2.connect(**dsn, connect_timeout=5)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            row = cur.fetchone()
            return row[0] if row else None
    finally:
        conn.close()


def ensure_role_and_database(dsn: dict, *, role: str, password: str, dbname: str) -> None:
    """Create the application role and database if missing, and set the role's password."""
    conn = psycopg2.connect(**dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,))
            verb = "ALTER" if cur.fetchone() else "CREATE"
            cur.execute(f'{verb} ROLE "{role}" LOGIN PASSWORD %s', (password,))
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,))
            if not cur.fetchone():
                cur.execute(f'CREATE DATABASE "{dbname}" OWNER "{role}"')
    finally:
        conn.close()
