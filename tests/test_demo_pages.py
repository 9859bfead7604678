"""Every page a demo account reaches renders, in Chinese and in English."""

import re

import pytest

from services import demo
from tests.factories import login

PAGES = {
    "admin": [
        "/staff/",
        "/staff/records",
        "/staff/records?status=pending&sort=changed",
        "/staff/queues/correction",
        "/staff/queues/id_change",
        "/staff/queues/id_dispute",
        "/admin/imports",
        "/admin/cohorts",
        "/admin/colleges",
        "/admin/staff",
        "/admin/outbox",
        "/admin/audit",
        "/account/",
    ],
    "staff-cs": [
        "/staff/",
        "/staff/records?q=2023",
        "/staff/queues/correction",
        "/staff/queues/id_change",
        "/staff/queues/id_dispute",
        "/account/",
    ],
    "student02": ["/record", "/record/correction", "/requests", "/account/"],
    "student04": ["/record", "/record/correction"],
    "student05": ["/identity/status", "/identity/profile", "/identity/id-change"],
    "student06": ["/identity/status", "/identity/dispute"],
    "student09": ["/identity/status", "/requests"],
    "student10": ["/identity/status", "/requests"],
}


@pytest.fixture
def seeded(demo_small):
    return demo_small


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_demo_page_renders(app, seeded, language):
    passwords = {email.split("@")[0]: password for _role, email, password in seeded}
    for who, paths in PAGES.items():
        client = app.test_client()
        client.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        assert login(client, f"{who}@{demo.DOMAIN}", passwords[who]).status_code == 303, who
        for path in paths:
            r = client.get(path)
            assert r.status_code == 200, (who, path, r.status_code, r.headers.get("Location"))
            assert "Traceback" not in r.get_data(as_text=True)
        # The queue items open inline for staff and admins.
        if who.startswith(("admin", "staff")):
            for kind in ("correction", "id_change", "id_dispute"):
                html = client.get(f"/staff/queues/{kind}").get_data(as_text=True)
                items = re.findall(r'/staff/queues/item/(\d+)"', html)
                assert items, (who, kind)  # the demo seeds open requests of every kind
                for item in items[:3]:
                    r = client.get(f"/staff/queues/item/{item}", headers={"HX-Request": "true"})
                    assert r.status_code == 200 and "<html" not in r.get_data(as_text=True)
