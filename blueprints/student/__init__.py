"""The student area: everything a graduate does, from registering to
confirming the record (/, /register, /login, /identity, /record, /requests,
/account, /photo). One blueprint, "student", with one child per module."""

from flask import Blueprint

from blueprints.student import account, auth, identity, problems, record

bp = Blueprint("student", __name__)
for child in (auth, identity, record, problems, account):
    bp.register_blueprint(child.bp)
