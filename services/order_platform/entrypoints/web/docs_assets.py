"""Swagger UI's assets from the ``swagger-ui-bundle`` package: ``/docs`` works offline.

APIFlask's defaults load them from a CDN, which fails on an air-gapped laptop, in a private
cluster and anywhere a content-security policy forbids third-party scripts.
"""

from __future__ import annotations

from apiflask import APIFlask
from flask import Blueprint
from swagger_ui_bundle import swagger_ui_path

ASSETS_PATH = "/docs/assets"


def serve_docs_assets(app: APIFlask) -> None:
    """Point the docs page at assets this app serves itself, and serve them."""
    app.config.update(
        SWAGGER_UI_CSS=f"{ASSETS_PATH}/swagger-ui.css",
        SWAGGER_UI_BUNDLE_JS=f"{ASSETS_PATH}/swagger-ui-bundle.js",
        SWAGGER_UI_STANDALONE_PRESET_JS=f"{ASSETS_PATH}/swagger-ui-standalone-preset.js",
        DOCS_FAVICON=f"{ASSETS_PATH}/favicon-32x32.png",
    )
    # A plain Flask blueprint: static files are not API operations, so not in the spec.
    app.register_blueprint(Blueprint("docs_assets", __name__, static_folder=str(swagger_ui_path),
                                     static_url_path=ASSETS_PATH))
