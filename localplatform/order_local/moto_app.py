"""The moto server's WSGI application, for gunicorn (see ``emulator.command``)."""

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

app = DomainDispatcherApplication(create_backend_app)
