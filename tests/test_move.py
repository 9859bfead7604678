"""`flask move-to-postgres`: the demo install on SQLite copied into an empty
PostgreSQL database (a scratch one, dropped afterwards), every row read back
equal through the models, sequences past the highest id, the app working on
the copy."""

import secrets

import pytest

import models
from services import demo
from tests.conftest import pg_admin_connect, pg_url_for
from tests.factories import login


@pytest.fixture
def scratch_pg():
    try:
        admin = pg_admin_connect()
    except Exception as exc:  # the reason is shown
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    name = f"gradproof_move_{secrets.token_hex(4)}"
    admin.execute(f'CREATE DATABASE "{name}"')
    yield pg_url_for(name)
    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


def all_rows():
    """Every row of every model, as Python values, in id order."""
    return {
        model.__name__: list(model.select().order_by(model._meta.primary_key).dicts())
        for model in models.ALL_MODELS
    }


@pytest.mark.postgres
def test_demo_data_moves_to_postgres_and_the_app_runs_there(app_factory, tmp_path, scratch_pg):
    sqlite_app = app_factory(DATABASE_URL=f"sqlite:///{tmp_path / 'college.sqlite3'}")
    with sqlite_app.app_context():
        models.db.connect(reuse_if_open=True)
        demo.seed("small")
        before = all_rows()
    result = sqlite_app.test_cli_runner().invoke(args=["move-to-postgres", scratch_pg])
    assert result.exit_code == 0, result.output
    assert "copied and verified" in result.output and "record " in result.output
    models.db.obj.close_all()

    pg_app = app_factory(DATABASE_URL=scratch_pg)
    with pg_app.app_context():
        models.db.connect(reuse_if_open=True)
        assert all_rows() == before
        # Sequences continue after the copied ids: new rows get new ids.
        college = models.College.create(code="new", name="新学院")
        assert college.id == max(row["id"] for row in before["College"]) + 1
        models.db.close()
    client = pg_app.test_client()
    assert login(client, f"student02@{demo.DOMAIN}", demo.STUDENT_PASSWORD).status_code == 303
    assert client.get("/record").status_code == 200

    # A second move into the now filled database is refused.
    again = app_factory(DATABASE_URL=sqlite_app.config["DATABASE_URL"])
    result = again.test_cli_runner().invoke(args=["move-to-postgres", scratch_pg])
    assert result.exit_code != 0 and "not empty (table" in result.output
