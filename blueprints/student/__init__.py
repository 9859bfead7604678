"""The student area: everything a graduate does, from registering to
confirming the record. One blueprint, "student", with one child per module:

    /register/...                                         signup.py
    /, /login, /logout, /activate, /forgot-*, /reset, /terms  auth.py
    /identity/...                                         identity.py
    /record/..., /photo/...                               record.py
    /requests/...                                         problems.py
    /account/...                                          account.py
"""

from flask import Blueprint

from blueprints.student import account, auth, identity, problems, record, signup

bp = Blueprint("student", __name__)
for child in (signup, auth, identity, record, problems, account):
    bp.register_blueprint(child.bp)
