"""Postgres consumers against a real PostgreSQL server (the test suite's throwaway one): rows per second from a
stream into a table, against a plain psycopg COPY of the same rows into the same kind of table; and the lag from
an upstream change to its committed row, against a direct INSERT seen from a second connection."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx

from tests.postgres_server import PostgresServer, binaries

COLUMNS = ("sequin_id, sync_id, sync_external_id, sync_metadata, collection_id, upstream_id, upstream_created_at, "
           "upstream_updated_at, updated_idx, deleted, data, inserted_at, updated_at")


def _server() -> PostgresServer:
    found = binaries()
    if found is None:
        raise SystemExit("bench/postgres.py needs PostgreSQL's server binaries (Debian's `postgresql` package)")
    return PostgresServer(found)


def _tenant(url: str) -> tuple[httpx.Client, dict, dict]:
    http = httpx.Client(base_url=url, headers={"Authorization": "Bearer bench"}, timeout=120)
    stream = http.post("/v1/streams", json={"slug": "pg"}).json()
    sync = http.post("/v1/syncs", json={"stream_id": stream["id"], "name": "s", "collection_ids": ["stripe:customer"],
                                        "credential": {"properties": {"kind": "stripe_key", "secret": "sk"}}}).json()
    return http, stream, sync


def throughput(emulator: Callable, row: Callable, customer: Callable[[int], dict], records: int) -> None:
    database = _server()
    server = emulator("--records-per-collection", "0", "--changes-per-hour", "0")
    try:
        http, stream, sync = _tenant(server.url)
        for start in range(0, records, 1000):
            batch = [{"collection_id": "stripe:customer", "upstream_id": f"cus_{i:014d}", "data": customer(i)}
                     for i in range(start, min(records, start + 1000))]
            http.post(f"/_emulator/streams/{stream['id']}/records", json={"sync_id": sync["id"], "records": batch})
        target = http.post("/v1/targets/postgres", json={"name": "t", "connection": database.connection()}).json()
        started = time.perf_counter()
        consumer = http.post("/v1/consumers/postgres", json={"name": "c", "target_id": target["id"],
                                                             "table_name": "emulated"}).json()
        progress = http.post(f"/_emulator/consumers/postgres/{consumer['id']}/wait", json={"timeout_ms": 600000}).json()
        elapsed = time.perf_counter() - started
        assert progress["caught_up"], progress
        with database.connect() as connection:
            as_sent = COLUMNS.replace("sync_metadata,", "sync_metadata::text,").replace(" data,", " data::text,")
            rows = connection.execute(f"SELECT {as_sent} FROM emulated").fetchall()  # JSON as the text COPY takes
            assert len(rows) == records
            connection.execute("CREATE TABLE copied (LIKE emulated INCLUDING ALL)")
            connection.commit()
            copy_started = time.perf_counter()
            with connection.cursor() as cursor, cursor.copy(f"COPY copied ({COLUMNS}) FROM STDIN") as copy:
                for values in rows:
                    copy.write_row(values)
            connection.commit()
            copy_elapsed = time.perf_counter() - copy_started
        row("Postgres consumer: stream → table, Stripe customers (1000 rows per transaction)",
            "≥ 50% of a plain COPY", records / elapsed, "rows/s", records / copy_elapsed, "higher")
    finally:
        server.stop()
        database.close()


def _p99(values: list[float]) -> float:
    values = sorted(values)
    return values[max(0, int(len(values) * 0.99) - 1)]


def _visible(connection, table: str, upstream_id: str, give_up: float) -> float:
    """Poll (bounded) until the row is committed; the moment it was seen."""
    while time.perf_counter() < give_up:
        if connection.execute(f"SELECT 1 FROM {table} WHERE upstream_id = %s", (upstream_id,)).fetchone():
            return time.perf_counter()
        time.sleep(0.0005)
    raise TimeoutError(f"{upstream_id} never reached {table}")


def lag(emulator: Callable, row: Callable, samples: int) -> None:
    database = _server()
    server = emulator("--records-per-collection", "0", "--changes-per-hour", "0")
    try:
        http, stream, sync = _tenant(server.url)
        target = http.post("/v1/targets/postgres", json={"name": "t", "connection": database.connection()}).json()
        consumer = http.post("/v1/consumers/postgres", json={"name": "c", "target_id": target["id"],
                                                             "table_name": "lagged"}).json()
        http.post(f"/_emulator/consumers/postgres/{consumer['id']}/wait", json={"timeout_ms": 30000})
        lags, direct = [], []
        with database.connect(autocommit=True) as reader, database.connect(autocommit=True) as writer:  # type: ignore[arg-type]
            writer.execute("CREATE TABLE direct (upstream_id text PRIMARY KEY)")
            for i in range(samples):
                sent = time.perf_counter()
                answer = http.post("/v1/mutations/run", json={
                    "sync_id": sync["id"], "collection_id": "stripe:customer", "kind": "create",
                    "records": [{"data": {"email": f"c{i}@example.com"}}]}).json()
                newest = answer["records"][0]["upstream_id"]
                lags.append((_visible(reader, "lagged", newest, sent + 10) - sent) * 1000)
                sent = time.perf_counter()
                writer.execute("INSERT INTO direct VALUES (%s)", (f"d{i}",))
                direct.append((_visible(reader, "direct", f"d{i}", sent + 10) - sent) * 1000)
        row("Postgres consumer: upstream change (mutation) → committed row, p99", "≤ 100 ms", _p99(lags), "ms",
            _p99(direct), "lower")
    finally:
        server.stop()
        database.close()
