"""Both /docs pages in a real headless Chromium (Debian's, with its chromedriver; `make test`
installs them where they are missing): Swagger UI renders the OpenAPI 3.1 document, Authorize
takes a token of the local user pool, and "Try it out" calls the API with it."""

from __future__ import annotations

import json
import shutil
import uuid

import pytest
import requests

from order_local import identity
from tests.e2e.conftest import bearer

pytestmark = pytest.mark.e2e

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT_SECONDS = 30


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    """Headless Chromium driven through the system chromedriver (Selenium Manager never runs:
    the driver's path is given, and SE_OFFLINE says so again)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert shutil.which("chromium") and shutil.which("chromedriver"), \
        "chromium and chromedriver: `make _chromium` installs them"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking", "--disable-extensions",
                     "--disable-component-update", "--disable-sync", "--window-size=1280,2000",
                     f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(argument)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SE_OFFLINE", "true")
        driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _authorize_and_try(driver, url: str, token: str, operation: str,
                       body: dict | None = None) -> tuple[str, str, str]:
    """Open ``url``/docs, authorize with ``token``, run ``operation`` (Swagger UI's id, e.g.
    ``get_orders``); the status, the response body and the curl Swagger UI shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(driver, WAIT_SECONDS)

    def find(selector: str, within=None):
        return wait.until(lambda d: (within or d).find_element(By.CSS_SELECTOR, selector))

    driver.get(f"{url}/docs")
    assert "OAS 3.1" in find(".information-container .version-stamp, .info .version").text \
        or "3.1" in find(".info").text
    assert "Unable to render" not in driver.page_source
    find("button.authorize").click()
    find(".modal-ux input").send_keys(token)
    find(".modal-ux .auth-btn-wrapper button.authorize").click()
    find(".modal-ux button.btn-done").click()
    wait.until(shown.invisibility_of_element_located((By.CSS_SELECTOR, ".modal-ux")))
    block = find(f"[id$='-{operation}']")
    find(".opblock-summary", block).click()
    find(".try-out__btn", block).click()
    if body is not None:
        editor = find("textarea.body-param__text", block)
        editor.clear()
        editor.send_keys(json.dumps(body))
    find(".btn.execute", block).click()
    status = find(".live-responses-table .response .response-col_status", block)
    wait.until(lambda _: status.text.strip())
    answer = find(".live-responses-table .response-col_description pre", block).text
    curl = find(".curl-command, .curl", block).text
    return status.text.strip(), answer, curl


def test_both_docs_render_and_call_their_api_with_a_token(browser, apis, users, admin):
    sku = f"DOCS-{uuid.uuid4().hex[:8]}"
    assert requests.post(f"{apis['write']}/products", headers=admin, timeout=10, json={
        "sku": sku, "name": "Docs mug", "price_cents": 100, "stock": 10}).status_code == 201
    token = identity.person_token(users, "docs-reader")

    status, answer, curl = _authorize_and_try(browser, apis["write"], token, "post_orders",
                                              {"items": [{"sku": sku, "quantity": 1}]})
    assert status == "202", answer
    assert json.loads(answer)["status"] == "PENDING"
    assert f"Authorization: Bearer {token}" in curl

    status, answer, curl = _authorize_and_try(browser, apis["read"], token, "get_orders")
    assert status == "200", answer
    assert "items" in json.loads(answer)
    assert f"Authorization: Bearer {token}" in curl
    # The same call without the token is refused: the browser really sent it.
    assert requests.get(f"{apis['read']}/orders", timeout=10).status_code == 401
    assert requests.get(f"{apis['read']}/orders", timeout=10,
                        headers=bearer(token)).status_code == 200
