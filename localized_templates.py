"""Templates compiled once per language, with their fixed texts translated.

Every `{{ _("Log in") }}` in a template is, at run time, a Jinja call, a
catalog look-up, a Markup and a `%` — some twenty-five per student page and
six per row of the staff records table. The text and the catalog are both
fixed, so each language gets its own compiled copy of a template (a Jinja
overlay environment with its own cache) in which `_("literal")` without
arguments is already the translated constant. The HTML is byte-identical:
the constant is `translation % {}` marked safe where autoescaping is on,
exactly what Jinja's new-style gettext returns. Calls with arguments, with
a non-literal text, `ngettext`, and every call in a template that assigns
its own `_` stay run-time calls. Outside LANGUAGES (or outside an app
context) templates render as before.

In production (not debug, not testing) compiled templates also go to a
bytecode cache in the instance folder, keyed by language and by the
catalog's content, so a restart does not compile them again.
"""

import hashlib
import os
import threading

from flask import current_app, has_app_context
from flask.templating import Environment
from jinja2 import FileSystemBytecodeCache, nodes
from jinja2.visitor import NodeTransformer

from blueprints.i18n import locale_code

GETTEXT_NAMES = ("_", "gettext")


class LocalizedEnvironment(Environment):
    """Flask's Jinja environment handing each language its own overlay."""

    locale = None  # set on the per-language overlays

    def __init__(self, app, **options):
        super().__init__(app, **options)
        self._by_locale = {}
        self._lock = threading.Lock()

    def for_locale(self, code):
        """The overlay environment that compiles templates for `code`."""
        env = self._by_locale.get(code)
        if env is None:
            with self._lock:
                env = self._by_locale.get(code)
                if env is None:
                    size = self.cache.capacity if self.cache is not None else 0
                    env = self.overlay(cache_size=size)
                    env.locale = code
                    env._by_locale = None
                    self._by_locale[code] = env
        return env

    def _load_template(self, name, globals):
        if self._by_locale is not None and has_app_context():
            code = locale_code()
            if code in current_app.config["LANGUAGES"]:
                return self.for_locale(code)._load_template(name, globals)
        return super()._load_template(name, globals)

    def _parse(self, source, name, filename):
        tree = super()._parse(source, name, filename)
        if self.locale is not None:
            tree = fold_translations(tree, catalog(self.locale))
            tree.set_environment(self)
        return tree


def catalog(code):
    """The request catalog Flask-Babel would use for `code`."""
    from extensions import babel

    return babel.domain_instance._catalog(code)


class _Fold(NodeTransformer):
    def __init__(self, translations):
        self.translations = translations

    def visit_Call(self, node):
        node = self.generic_visit(node)
        if not (
            isinstance(node.node, nodes.Name)
            and node.node.name in GETTEXT_NAMES
            and len(node.args) == 1
            and isinstance(node.args[0], nodes.Const)
            and isinstance(node.args[0].value, str)
            and not node.kwargs
            and node.dyn_args is None
            and node.dyn_kwargs is None
        ):
            return node
        try:
            # What jinja2.ext's new-style gettext returns: Markup(t) % {}.
            text = self.translations.ugettext(node.args[0].value) % {}
        except (KeyError, TypeError, ValueError):
            return node  # fails at run time as before
        return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=node.lineno), lineno=node.lineno)


def fold_translations(tree, translations):
    """`tree` with every constant `_("…")` replaced by its translation."""
    shadowed = any(n.name in GETTEXT_NAMES and n.ctx in ("store", "param") for n in tree.find_all(nodes.Name))
    if shadowed:  # e.g. `{% set _ = list.append(x) %}`: leave the whole file alone
        return tree
    return _Fold(translations).visit(tree)


class LocaleBytecodeCache(FileSystemBytecodeCache):
    """Compiled templates on disk, one per template, language and catalog."""

    def __init__(self, directory, catalog_files):
        os.makedirs(directory, exist_ok=True)
        super().__init__(directory)
        digest = hashlib.sha256()
        for path in sorted(catalog_files):
            with open(path, "rb") as f:
                digest.update(f.read())
        self.catalog_stamp = digest.hexdigest()[:16]

    def get_bucket(self, environment, name, filename, source):
        locale = getattr(environment, "locale", None)
        return super().get_bucket(environment, f"{locale}:{self.catalog_stamp}:{name}", filename, source)


def init_app(app):
    """Give the production app a bytecode cache (TEMPLATE_CACHE_DIR, by
    default instance/jinja-cache; "off" for none)."""
    directory = app.config.get("TEMPLATE_CACHE_DIR") or os.path.join(app.instance_path, "jinja-cache")
    if app.debug or app.testing or directory == "off":
        return
    translations = os.path.join(app.root_path, "translations")
    catalogs = [
        os.path.join(root, name)
        for root, _dirs, files in os.walk(translations)
        for name in files
        if name.endswith(".mo")
    ]
    app.jinja_env.bytecode_cache = LocaleBytecodeCache(directory, catalogs)
