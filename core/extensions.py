"""Flask extensions, created once and bound in ``create_app``."""

from __future__ import annotations

from flask_babel import Babel
from flask_bootstrap import Bootstrap5
from flask_login import LoginManager
from flask_smorest import Api
from flask_wtf import CSRFProtect

babel = Babel()
bootstrap = Bootstrap5()
csrf = CSRFProtect()
login_manager = LoginManager()
api = Api()
