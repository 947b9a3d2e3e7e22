"""The moto server's WSGI application, for gunicorn (see ``emulator.command``), with Cognito's
client-credentials token endpoint in front (``moto_oauth``)."""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from order_local.moto_oauth import with_token_endpoint

app = with_token_endpoint(DomainDispatcherApplication(create_backend_app))
