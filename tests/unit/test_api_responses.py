"""The APIs' Location: sent as it is exactly when werkzeug would send it unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.urls import iri_to_uri

from order_platform.entrypoints.web.app import _PLAIN_URI, ApiResponse

_urls = st.builds(lambda scheme, host, path: f"{scheme}://{host}{path}",
                  st.sampled_from(["http", "https"]),
                  st.sampled_from(["127.0.0.1:3001", "api.example.com", "read-api.svc:3001",
                                   "bücher.example", "[::1]:3001", "h st"]),
                  st.text(max_size=30).map(lambda t: "/" + t) | st.just(""))


@settings(max_examples=500, deadline=None)
@given(_urls)
def test_what_is_left_alone_is_what_werkzeug_would_leave_alone(url):
    if _PLAIN_URI.fullmatch(url):
        assert iri_to_uri(url) == url


@pytest.mark.parametrize("location", [
    "http://127.0.0.1:3001/orders/5b1a9a56-0c7a-4c1e-9d0e-2a8f3b6f7a10",
    "https://read.example.com/products/MUG-BLUE",
    "http://bücher.example/orders/x y",
])
def test_the_location_sent_is_werkzeugs(location):
    response = ApiResponse(b"{}", 202, {"Location": location})
    sent = dict(response.get_wsgi_headers({"SERVER_NAME": "x", "SERVER_PORT": "80",
                                           "wsgi.url_scheme": "http"}))
    assert sent["Location"] == iri_to_uri(location)
    assert response.headers["Location"] == location  # the response itself is unchanged
