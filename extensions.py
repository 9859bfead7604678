"""Flask extensions, created here unbound and bound in create_app().

Kept outside blueprints/ so that services (mail) can use them without
importing HTTP code.
"""

from flask_babel import Babel
from flask_compress import Compress
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_mail import Mail
from flask_talisman import Talisman
from flask_wtf.csrf import CSRFProtect

import ratelimit_sqlite  # noqa: F401 (registers the gradproof+sqlite:// storage)

babel = Babel()
compress = Compress()
csrf = CSRFProtect()
limiter = Limiter(key_func=get_remote_address)
login_manager = LoginManager()
mail = Mail()
talisman = Talisman()
