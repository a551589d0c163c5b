"""Managed Postgres consumers against a real PostgreSQL server (tests/postgres_server.py), through the API alone:
the resources, what lands in the table, and faults (the database stopped, a wrong password, the table dropped, a
statement timeout) with nothing lost, duplicated or reordered."""

from __future__ import annotations

import itertools
import time

import pytest

from sequin_emulator.domain.upstream import AccountSettings
from tests.conftest import Api, emulator_api

MASK = "***********"
STRIPE = {"properties": {"kind": "stripe_key", "secret": "sk_test_pg"}}
_tables = itertools.count()


@pytest.fixture
def pg(start_emulator, postgres_server):
    """A tenant with a small Stripe account behind a backfilled sync, a target on the test server, and a fresh
    table name."""
    api = start_emulator("pg", accounts=AccountSettings(records_per_collection=4, changes_per_hour=0))
    stream = api.stream("main")
    sync = api.ok("POST", "/v1/syncs", {"stream_id": stream["id"], "name": "Stripe", "credential": STRIPE,
                                        "collection_ids": ["stripe:customer", "stripe:product"]})
    api.wait_for_backfill(sync["id"])
    target = api.ok("POST", "/v1/targets/postgres", {"name": "warehouse", "connection": postgres_server.connection()})
    return Setup(api, postgres_server, stream, sync, target, f"records_{next(_tables)}")


class Setup:
    def __init__(self, api: Api, server, stream: dict, sync: dict, target: dict, table: str) -> None:
        self.api, self.server, self.stream, self.sync, self.target, self.table = api, server, stream, sync, target, table

    def consumer(self, **fields) -> dict:
        body = {"name": "to-warehouse", "target_id": self.target["id"], "table_name": self.table, **fields}
        return self.api.ok("POST", "/v1/consumers/postgres", body)

    def rows(self) -> dict[str, tuple]:
        """upstream id → (updated_idx, deleted, data) as the table has it."""
        with self.server.connect() as connection:
            found = connection.execute(f"SELECT upstream_id, updated_idx, deleted, data FROM {self.table}").fetchall()
        return {upstream_id: (idx, deleted, data) for upstream_id, idx, deleted, data in found}

    def stream_records(self) -> dict[str, tuple]:
        """upstream id → (updated_idx, deleted, data) of every record in the stream, read by a new HTTP consumer."""
        reader = self.api.ok("POST", "/v1/http-consumers", {"stream_id": self.stream["id"]})
        records = self.api.drain(reader["id"])
        self.api.ok("DELETE", f"/v1/http-consumers/{reader['id']}")
        return {r["upstream_id"]: (r["updated_idx"], r["deleted"], r["data"]) for r in records}

    def change_upstream(self) -> str:
        """An update and a delete upstream, seen by the sync; returns the deleted customer's id."""
        credential = self.sync["credential_id"]
        customers = self.api.upstream(credential, "stripe:customer")
        self.api.inject(credential, "update", "stripe:customer", customers[0]["id"], {"name": "Changed Name"})
        self.api.inject(credential, "delete", "stripe:customer", customers[1]["id"])
        self.api.advance("5s")
        return customers[1]["id"]

    def health(self, path: str) -> dict:
        return self.api.ok("GET", path)["health"]

    def until_health(self, path: str, status: str, timeout: float = 30) -> dict:
        give_up = time.monotonic() + timeout
        while time.monotonic() < give_up:
            health = self.health(path)
            if health["status"] == status:
                return health
            time.sleep(0.05)
        raise AssertionError(f"{path} never had health {status}: {self.health(path)}")


def test_targets_round_trip_with_the_password_masked(pg):
    api, target = pg.api, pg.target
    assert target["kind"] == "postgres" and target["connection"]["password"] == MASK
    assert target["connection"]["port"] == pg.server.port and target["ssh_tunnel_id"] is None
    assert api.ok("GET", f"/v1/targets/db/{target['id']}")["id"] == target["id"]  # the alias of Sequin's curl
    assert pg.server.connection()["password"] not in api.get("/v1/targets/postgres").text
    assert pg.until_health(f"/v1/targets/postgres/{target['id']}", "ok")["notes"] == []
    renamed = api.ok("PATCH", f"/v1/targets/postgres/{target['id']}", {"name": "dw", "connection": {"port": 1}})
    assert renamed["name"] == "dw" and renamed["connection"]["port"] == 1 and renamed["connection"]["host"]
    tunnel = api.post("/v1/targets/db", {"name": "t", "connection": pg.server.connection(), "ssh_tunnel_id": "x"})
    assert tunnel.status_code == 422 and "ssh_tunnel_id" in tunnel.json()["validation_errors"]
    consumer = pg.consumer()
    refused = api.delete(f"/v1/targets/postgres/{target['id']}")
    assert refused.status_code == 422 and consumer["id"] in refused.text
    api.ok("DELETE", f"/v1/consumers/postgres/{consumer['id']}")
    assert api.ok("DELETE", f"/v1/targets/db/{target['id']}") == {"id": target["id"], "deleted": True}


def test_consumers_validate_and_filter(pg):
    api = pg.api
    consumer = pg.consumer(syncs=[pg.sync["id"]], metadata={"team": "data"})
    assert consumer["syncs"] == [pg.sync["id"]] and consumer["active"] is True
    default = api.ok("POST", "/v1/consumers/postgres", {"name": "all", "target_id": pg.target["id"]})
    assert default["syncs"] == ["*"] and default["table_name"] == "sequin_records"
    for body, path in [({"syncs": ["*", pg.sync["id"]]}, "syncs"), ({"syncs": ["nope"]}, "syncs.0"),
                       ({"target_id": pg.sync["id"]}, "target_id"), ({"table_name": "Drop Table"}, "table_name")]:
        answer = api.post("/v1/consumers/postgres", {"name": "x", "target_id": pg.target["id"], **body})
        assert answer.status_code == 422 and path in answer.json()["validation_errors"], answer.text
    paused = api.ok("PATCH", f"/v1/consumers/postgres/{default['id']}", {"active": False})
    assert paused["active"] is False and paused["health"]["status"] == "warn"
    listed = lambda query: [c["id"] for c in api.ok("GET", f"/v1/consumers/postgres?{query}")["data"]]  # noqa: E731
    assert listed("active=false") == [default["id"]]
    assert set(listed(f"sync_id={pg.sync['id']}")) == {consumer["id"], default["id"]}  # `*` covers every sync
    assert set(listed(f"target_id={pg.target['id']}")) == {consumer["id"], default["id"]}
    immutable = api.patch(f"/v1/consumers/postgres/{consumer['id']}", {"table_name": "other"})
    assert immutable.status_code == 422


def test_a_stripe_sync_lands_in_the_table_then_follows_updates_and_deletes(pg):
    consumer = pg.consumer()
    progress = pg.api.wait_for_postgres(consumer["id"])
    assert progress["pending"] == 0 and progress["health"]["status"] == "ok"
    assert pg.rows() == pg.stream_records() and len(pg.rows()) == 8  # 4 customers and 4 products
    gone = pg.change_upstream()
    pg.api.wait_for_postgres(consumer["id"])
    rows = pg.rows()
    assert rows == pg.stream_records()
    assert rows[gone][1] is True, "a delete keeps the row, marked deleted"
    assert "Changed Name" in [data.get("name") for _, _, data in rows.values()]
    with pg.server.connect() as connection:
        columns = [c.name for c in connection.execute(f"SELECT * FROM {pg.table} LIMIT 0").description]
    assert columns == ["sequin_id", "sync_id", "sync_external_id", "sync_metadata", "collection_id", "upstream_id",
                       "upstream_created_at", "upstream_updated_at", "updated_idx", "deleted", "data", "inserted_at",
                       "updated_at"]


def test_the_database_stopped_and_started_loses_nothing(pg):
    consumer = pg.consumer()
    pg.api.wait_for_postgres(consumer["id"])
    pg.server.stop()
    try:
        pg.change_upstream()
        health = pg.until_health(f"/v1/consumers/postgres/{consumer['id']}", "error")
        assert health["notes"] and pg.health(f"/v1/targets/postgres/{pg.target['id']}")["status"] == "error"
    finally:
        pg.server.start()
    pg.api.wait_for_postgres(consumer["id"], timeout=60)
    assert pg.until_health(f"/v1/consumers/postgres/{consumer['id']}", "ok")["notes"] == []
    assert pg.rows() == pg.stream_records()


def test_a_wrong_password_says_why_and_a_fixed_one_recovers(pg):
    api = pg.api
    wrong = api.ok("POST", "/v1/targets/postgres", {"name": "wrong", "connection": {
        **pg.server.connection(), "password": "not-it"}})
    consumer = api.ok("POST", "/v1/consumers/postgres", {"name": "c", "target_id": wrong["id"],
                                                          "table_name": pg.table})
    health = pg.until_health(f"/v1/consumers/postgres/{consumer['id']}", "error")
    assert "password authentication failed" in health["notes"][0]
    assert "password authentication failed" in pg.health(f"/v1/targets/postgres/{wrong['id']}")["notes"][0]
    api.ok("PATCH", f"/v1/targets/postgres/{wrong['id']}", {"connection": {"password": pg.server.connection()["password"]}})
    api.wait_for_postgres(consumer["id"], timeout=90)
    assert pg.rows() == pg.stream_records()


def test_a_dropped_table_is_made_again_with_everything_in_it(pg):
    consumer = pg.consumer()
    pg.api.wait_for_postgres(consumer["id"])
    with pg.server.connect() as connection:
        connection.execute(f"DROP TABLE {pg.table}")
    pg.change_upstream()
    pg.api.wait_for_postgres(consumer["id"], timeout=60)
    assert pg.rows() == pg.stream_records()


def test_a_statement_timeout_is_retried(pg):
    with pg.server.connect() as admin:
        admin.execute(f"ALTER ROLE {pg.server.connection()['username']} SET statement_timeout = '200ms'")
        admin.commit()
    try:  # a target of its own, so its connections are new ones, with the timeout
        target = pg.api.ok("POST", "/v1/targets/postgres", {"name": "slow", "connection": pg.server.connection()})
        consumer = pg.api.ok("POST", "/v1/consumers/postgres", {"name": "c", "target_id": target["id"],
                                                                 "table_name": pg.table})
        pg.api.wait_for_postgres(consumer["id"])
        with pg.server.connect() as locker:
            locker.execute("SET statement_timeout = 0")
            locker.execute(f"LOCK TABLE {pg.table} IN ACCESS EXCLUSIVE MODE")  # held until this transaction ends
            pg.change_upstream()
            health = pg.until_health(f"/v1/consumers/postgres/{consumer['id']}", "error")
            assert "statement timeout" in health["notes"][0]
        pg.api.wait_for_postgres(consumer["id"], timeout=60)
        assert pg.rows() == pg.stream_records()
    finally:
        with pg.server.connect() as admin:
            admin.execute(f"ALTER ROLE {pg.server.connection()['username']} RESET statement_timeout")
            admin.commit()


def test_pausing_and_replaying_newly_covered_syncs(pg):
    api = pg.api
    other = api.ok("POST", "/v1/syncs", {"stream_id": pg.stream["id"], "name": "Other", "collection_ids":
                                         ["stripe:customer"], "credential": {"properties": {
                                             "kind": "stripe_key", "secret": "sk_test_other"}}})
    api.wait_for_backfill(other["id"])
    consumer = pg.consumer(syncs=[pg.sync["id"]])
    api.wait_for_postgres(consumer["id"])
    assert len(pg.rows()) == 8, "only the first sync's records"
    api.ok("PATCH", f"/v1/consumers/postgres/{consumer['id']}", {"active": False})
    before = pg.rows()
    pg.change_upstream()
    paused = api.ok("POST", f"/_emulator/consumers/postgres/{consumer['id']}/wait", {"timeout_ms": 300})
    assert paused["caught_up"] is False and paused["pending"] == 2 and pg.rows() == before
    api.ok("PATCH", f"/v1/consumers/postgres/{consumer['id']}", {"active": True, "syncs": [pg.sync["id"], other["id"]]})
    api.wait_for_postgres(consumer["id"])
    assert pg.rows() == pg.stream_records() and len(pg.rows()) == 12  # the other sync's 4 customers replayed


def test_a_mutation_awaits_the_commit_and_a_deleted_consumer_stops(pg):
    api = pg.api
    consumer = pg.consumer()
    api.wait_for_postgres(consumer["id"])
    customer = api.upstream(pg.sync["credential_id"], "stripe:customer")[0]["id"]
    api.ok("POST", "/v1/mutations/run", {"sync_id": pg.sync["id"], "collection_id": "stripe:customer",
                                          "kind": "update", "records": [{"upstream_id": customer,
                                                                         "data": {"name": "Awaited"}}],
                                          "await_consumer_ids": [consumer["id"]]})
    assert pg.rows()[customer][2]["name"] == "Awaited", "committed when the mutation answered"
    api.ok("DELETE", f"/v1/consumers/postgres/{consumer['id']}")
    before = pg.rows()
    pg.change_upstream()
    time.sleep(0.5)
    assert pg.rows() == before


def test_state_export_and_import_keep_targets_consumers_and_their_place(pg, start_emulator):
    consumer = pg.consumer()
    pg.api.wait_for_postgres(consumer["id"])
    state = pg.api.ok("GET", "/_emulator/state")
    assert state["targets"][0]["connection"]["password"] == pg.server.connection()["password"]  # state holds secrets
    assert state["table_cursors"][consumer["id"]]["done_idx"] > 0
    elsewhere = start_emulator("pg-copy")
    elsewhere.ok("PUT", "/_emulator/state", state)
    assert elsewhere.ok("GET", f"/v1/consumers/postgres/{consumer['id']}")["table_name"] == pg.table
    assert elsewhere.ok("GET", "/_emulator/state") == state
    elsewhere.wait_for_postgres(consumer["id"])  # already caught up: nothing written again


def test_a_scenario_brings_targets_and_postgres_consumers(start_emulator, postgres_server):
    api = start_emulator("pg-scenario")
    table = f"records_{next(_tables)}"
    scenario = {
        "credentials": [{"name": "stripe", "properties": STRIPE["properties"],
                         "upstream": {"records_per_collection": 3, "changes_per_hour": 0}}],
        "streams": [{"slug": "main"}],
        "syncs": [{"name": "Stripe", "stream": "main", "credential": "stripe", "collection_ids": ["stripe:customer"]}],
        "targets": [{"name": "warehouse", "connection": postgres_server.connection()}],
        "postgres_consumers": [{"name": "dw", "target": "warehouse", "syncs": ["Stripe"], "table_name": table}],
        "advance": "1m",
    }
    ids = api.load(scenario)
    consumer = api.ok("GET", f"/v1/consumers/postgres/{ids['postgres_consumers']['dw']}")
    assert consumer["syncs"] == [ids["syncs"]["Stripe"]] and consumer["target_id"] == ids["targets"]["warehouse"]
    api.wait_for_postgres(consumer["id"])
    with postgres_server.connect() as connection:
        assert connection.execute(f"SELECT count(*) FROM {table}").fetchone() == (3,)
    wrong = api.post("/_emulator/scenario", {"postgres_consumers": [{"name": "x", "target": "nowhere"}]})
    assert wrong.status_code == 422 and "postgres_consumers.0.target" in wrong.json()["validation_errors"]


def test_stopping_the_emulator_closes_its_connections(postgres_server):
    def ours() -> int:
        with postgres_server.connect() as connection:
            return connection.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = "
                                      "'sequin-emulator'").fetchone()[0]

    with emulator_api("pg-stop") as api:
        target = api.ok("POST", "/v1/targets/postgres", {"name": "t", "connection": postgres_server.connection()})
        consumer = api.ok("POST", "/v1/consumers/postgres", {"name": "c", "target_id": target["id"],
                                                             "table_name": f"records_{next(_tables)}"})
        api.wait_for_postgres(consumer["id"])
        assert ours() >= 1
    assert ours() == 0


def test_a_record_holding_nul_is_written_with_the_replacement_character(pg):
    """PostgreSQL's text and jsonb cannot hold U+0000 (the Stripe API accepts `name=a%00b`): it is written as
    U+FFFD, and the consumer goes on (#21)."""
    credential = pg.sync["credential_id"]
    customer = pg.api.upstream(credential, "stripe:customer")[0]
    pg.api.inject(credential, "update", "stripe:customer", customer["id"], {"name": "a\u0000b"})
    pg.api.advance("5s")
    consumer = pg.consumer()
    progress = pg.api.wait_for_postgres(consumer["id"])
    assert progress["health"]["status"] == "ok"
    assert pg.rows()[customer["id"]][2]["name"] == "a\ufffdb"


def test_a_first_batch_that_fails_once_is_written_on_the_retry(pg):
    """The staging table made in a rolled-back transaction is gone with it: the writer must not count it (#21)."""
    with pg.server.connect() as connection:
        connection.execute(f"CREATE TABLE {pg.table} (sequin_id uuid PRIMARY KEY, sync_id uuid NOT NULL, "
                           "sync_external_id text, sync_metadata jsonb, collection_id text NOT NULL, upstream_id text "
                           "NOT NULL, upstream_created_at timestamptz, upstream_updated_at timestamptz, updated_idx "
                           "bigint NOT NULL, deleted boolean NOT NULL, data jsonb, inserted_at timestamptz NOT NULL, "
                           "updated_at timestamptz NOT NULL)")
        connection.execute(f"CREATE SEQUENCE {pg.table}_tries")  # sequences do not roll back: a failure once
        connection.execute(f"CREATE FUNCTION {pg.table}_once() RETURNS trigger AS $$ BEGIN IF nextval('{pg.table}"
                           f"_tries') = 1 THEN RAISE EXCEPTION 'failing once'; END IF; RETURN NEW; END $$ "
                           "LANGUAGE plpgsql")
        connection.execute(f"CREATE TRIGGER once BEFORE INSERT ON {pg.table} FOR EACH ROW EXECUTE FUNCTION "
                           f"{pg.table}_once()")
        connection.commit()
    consumer = pg.consumer()
    progress = pg.api.wait_for_postgres(consumer["id"])
    assert progress["health"]["status"] == "ok" and pg.rows() == pg.stream_records()


def test_nul_in_a_targets_connection_is_refused(pg):
    for field in ("host", "database", "username", "password"):
        connection = {**pg.server.connection(), field: "a\u0000b"}
        answer = pg.api.post("/v1/targets/postgres", {"name": "nul", "connection": connection})
        assert answer.status_code == 422 and f"connection.{field}" in answer.json()["validation_errors"], answer.text


def test_a_consumer_that_shares_an_id_with_a_target_still_runs(pg, start_emulator):
    """The writer keeps a task per consumer and per target: a snapshot where the two share an id runs both."""
    consumer = pg.consumer()
    pg.api.wait_for_postgres(consumer["id"])
    state = pg.api.ok("GET", "/_emulator/state")
    [saved] = state["postgres_consumers"]
    state["table_cursors"] = {pg.target["id"]: state["table_cursors"].pop(saved["id"])}
    saved["id"] = pg.target["id"]
    other = start_emulator("pg-shared", accounts=AccountSettings(records_per_collection=4, changes_per_hour=0))
    answer = other.put("/_emulator/state", state)
    assert answer.status_code < 300, answer.text
    pg.api.ok("DELETE", f"/v1/consumers/postgres/{consumer['id']}")  # only the imported one writes from now on
    credential = pg.sync["credential_id"]
    customer = other.upstream(credential, "stripe:customer")[0]
    other.inject(credential, "update", "stripe:customer", customer["id"], {"name": "Written by the import"})
    other.advance("5s")
    progress = other.wait_for_postgres(pg.target["id"])
    assert progress["health"]["status"] == "ok" and pg.rows()[customer["id"]][2]["name"] == "Written by the import"
