"""The staff console under /staff: the dashboard, the records table with its
bulk actions, the problem queues and the exports. One blueprint, "staff",
with one child per module."""

from flask import Blueprint

from blueprints.staff import dashboard, exports, photos, queues, records, table

bp = Blueprint("staff", __name__, url_prefix="/staff")
bp.context_processor(table.row_globals)
for child in (dashboard, records, photos, queues, exports):
    bp.register_blueprint(child.bp)
