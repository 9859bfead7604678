"""The admin area under /admin: imports, cohorts, colleges, staff accounts,
the mail outbox and the audit log. One blueprint, "admin", with one child
per module."""

from flask import Blueprint

from blueprints.admin import audit, cohorts, colleges, imports, outbox, staff

bp = Blueprint("admin", __name__, url_prefix="/admin")
for child in (imports, cohorts, colleges, staff, outbox, audit):
    bp.register_blueprint(child.bp)
