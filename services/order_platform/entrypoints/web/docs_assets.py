"""Swagger UI 5's assets from the ``swagger-ui-py`` package: ``/docs`` renders OpenAPI 3.1 and
works offline.

APIFlask's defaults load them from a CDN, which fails on an air-gapped laptop, in a private
cluster and anywhere a content-security policy forbids third-party scripts. Only the package's
``static/`` folder is used: its module would import a handler for every web framework it knows.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from apiflask import APIFlask
from flask import Blueprint

ASSETS_PATH = "/docs/assets"


def swagger_ui_static() -> Path:
    """The folder of Swagger UI's files inside swagger-ui-py, found without importing it."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("swagger-ui-py is not installed: it serves /docs")
    return Path(next(iter(spec.submodule_search_locations))) / "static"


def serve_docs_assets(app: APIFlask) -> None:
    """Point the docs page at assets this app serves itself, and serve them."""
    app.config.update(
        SWAGGER_UI_CSS=f"{ASSETS_PATH}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        DOCS_FAVICON=f"{ASSETS_PATH}/favicon-32x32.png",
    )
    # A plain Flask blueprint: static files are not API operations, so not in the spec.
    app.register_blueprint(Blueprint("docs_assets", __name__,
                                     static_folder=str(swagger_ui_static()),
                                     static_url_path=ASSETS_PATH))
