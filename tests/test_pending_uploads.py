"""ID pictures survive a re-shown form (an opaque token), the other fields
are checked before the pictures travel (_check), and a double submit of an
upload files one request."""

import io
import re

from werkzeug.test import EnvironBuilder

import models
from services import idimages, pending_uploads
from tests import imagegen
from tests.factories import make_record, make_user, sign_in, with_realname

PICTURE = imagegen.jpeg(900, 600, (200, 200, 200))  # ID pictures need 600 px on the short side


def english(client):
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


def unmatched_student(email="student@example.edu"):
    record = make_record(name="王小明")
    user = with_realname(make_user(email), record)
    user.id_number = "11010519491231002X"
    user.save()
    return record, models.User.get_by_id(user.id)


def post(client, data, with_picture=True):
    data = dict({"phone": "13812345678", "reply_email": "", "note": ""}, **data)
    if with_picture:
        data["front"] = (io.BytesIO(PICTURE), "front.jpg")
    data["csrf_token"] = client.csrf("/identity/id-change")
    builder = EnvironBuilder(
        path="/identity/id-change",
        method="POST",
        data=data,
        content_type="multipart/form-data",
        environ_base=client.environ_base,
    )
    try:
        response = client.open(builder)
    finally:
        builder.close()
    response.request.environ["wsgi.input"].close()
    return response


def token_in(html):
    return re.search(r'name="upload" type="hidden" value="([\w-]*)"', html).group(1)


def test_kept_picture_is_used_when_the_form_is_fixed(app, client, db):
    record, _user = unmatched_student()
    sign_in(english(client))
    r = post(client, {"id_number": record.id_number, "phone": "1381234567"})  # one digit short
    html = r.get_data(as_text=True)
    assert r.status_code == 400 and "11-digit" in html and "need not send them again" in html
    token = token_in(html)
    assert token and models.Request.select().count() == 0
    # Sent again without pictures: the kept one is filed.
    r = post(client, {"id_number": record.id_number, "upload": token}, with_picture=False)
    assert r.status_code == 303 and r.headers["Location"] == "/requests"
    request = models.Request.get()
    with app.app_context():
        assert idimages.read(request.image_key)[:3] == b"\xff\xd8\xff"
        assert not pending_uploads.exists(request.user_id, token)  # claimed once


def test_another_accounts_token_finds_nothing(app, client, db):
    record, _user = unmatched_student()
    sign_in(english(client))
    token = token_in(post(client, {"id_number": record.id_number, "phone": "1"}).get_data(as_text=True))
    other = english(app.test_client())
    other_record = make_record(name="李四")
    stranger = with_realname(make_user("other@example.edu"), other_record)
    stranger.id_number = "110105194912310037"
    stranger.save()
    sign_in(other, "other@example.edu")
    r = post(other, {"id_number": other_record.id_number, "upload": token}, with_picture=False)
    assert r.status_code == 400 and "Please add a picture" in r.get_data(as_text=True)
    assert models.Request.select().count() == 0


def test_check_validates_other_fields_without_pictures(client, db):
    record, _user = unmatched_student()
    sign_in(english(client))
    bad = post(client, {"id_number": record.id_number, "phone": "12", "_check": "1"}, with_picture=False)
    assert bad.status_code == 400 and "11-digit" in bad.get_data(as_text=True)
    assert "Please add a picture" not in bad.get_data(as_text=True)
    good = post(client, {"id_number": record.id_number, "_check": "1"}, with_picture=False)
    assert good.status_code == 204 and models.Request.select().count() == 0


def test_double_submit_files_one_request(app, client, db):
    record, _user = unmatched_student()
    sign_in(english(client))
    first = post(client, {"id_number": record.id_number})
    second = post(client, {"id_number": record.id_number})
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"] == "/requests"
    assert models.Request.select().count() == 1
    with app.app_context():
        assert len([n for n in __import__("os").listdir(idimages.root()) if n.endswith(".jpg")]) == 1
