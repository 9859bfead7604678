"""Fixtures of the admin page tests: the shared world and an admin logged in (English)."""

import pytest

from tests.factories import setup_world, sign_in


@pytest.fixture
def world(db):
    return setup_world()


@pytest.fixture
def en(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def admin(en, world):
    sign_in(en, "admin@example.edu")
    return en
