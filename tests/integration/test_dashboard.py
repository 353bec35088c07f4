"""The nameserver's web dashboard: its JSON over plain HTTP, and the page itself in headless
Chromium (Debian's ``chromium`` and ``chromium-driver``, driven by Selenium with no driver
download), against a real cluster whose blockstore is SIGKILLed while the page is open."""

from __future__ import annotations

import json
import os
import shutil
import signal
from collections.abc import Iterator

import pytest

from compat_tests.clients import require_binary, require_module
from tests.integration.harness import Cluster, http_request

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
INSTALL = "apt-get install chromium chromium-driver"

# Short heartbeats, so a killed blockstore is declared dead within seconds.
pytestmark = pytest.mark.cluster(heartbeat_interval_s=0.5, dead_after_s=2.0, gateway=True,
                                 gateway_args=["--workers", "1"])


def _data(cluster: Cluster) -> dict:
    status, body = http_request("GET", cluster.nameserver_url + "/dashboard/data")
    assert status == 200, body[:300]
    return json.loads(body)


def test_dashboard_data_shows_servers_and_bucket_counts(cluster: Cluster) -> None:
    s3 = cluster.s3_client()
    s3.create_bucket(Bucket="photos")
    s3.create_bucket(Bucket="empty")
    sizes = [10, 5000, 300_000]
    for i, size in enumerate(sizes):
        s3.put_object(Bucket="photos", Key=f"dir/{i}.bin", Body=os.urandom(size))

    data = _data(cluster)
    shown = {s["server_id"]: s["state"] for s in data["status"]["servers"]}
    assert shown == {cluster.server_id(n): "live" for n in cluster.blockstore_names}
    buckets = {b["name"]: b for b in data["buckets"]}
    assert buckets["photos"] == {"name": "photos", "objects": len(sizes), "bytes": sum(sizes),
                                 "truncated": False}
    assert buckets["empty"]["objects"] == 0
    assert data["refresh_s"] > 0

    status, page = http_request("GET", cluster.nameserver_url + "/dashboard")
    assert status == 200 and b"dashboard/static/dashboard.js" in page
    for asset in ("dashboard.js", "dashboard.css"):
        status, body = http_request("GET", f"{cluster.nameserver_url}/dashboard/static/{asset}")
        assert status == 200 and len(body) > 100
    status, _ = http_request("GET", cluster.nameserver_url + "/dashboard/static/..%2fapp.py")
    assert status == 404


@pytest.fixture
def browser() -> Iterator[object]:
    require_binary("chromium", INSTALL)
    require_binary("chromedriver", INSTALL)
    webdriver = require_module("selenium.webdriver", "pip install selenium")
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1200,900"):
        options.add_argument(arg)
    # The Debian driver, given explicitly: Selenium Manager would try to download one.
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or CHROMEDRIVER)
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def _shown_states(driver) -> dict[str, str]:
    # Read in one script: the page rebuilds its tables every few seconds, so elements
    # found one call earlier may be gone (stale) by the next.
    return driver.execute_script(
        "const out = {};"
        "for (const row of document.querySelectorAll('#servers tbody tr')) {"
        "  out[row.getAttribute('data-server-id')] = row.querySelector('td.state').innerText;"
        "}"
        "return out;")


def _bucket_rows(driver, bucket: str) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('#buckets tr'))"
        "  .filter(r => r.getAttribute('data-bucket') === arguments[0])"
        "  .map(r => r.innerText);", bucket)


def test_dashboard_page_shows_every_server_and_a_killed_one_turns_dead(
        cluster: Cluster, browser) -> None:
    from selenium.webdriver.common.by import By

    s3 = cluster.s3_client()
    s3.create_bucket(Bucket="shown")
    s3.put_object(Bucket="shown", Key="k", Body=b"hello")
    browser.get(cluster.nameserver_url + "/dashboard")
    ids = {cluster.server_id(n) for n in cluster.blockstore_names}
    cluster.wait_for(lambda: _shown_states(browser) == dict.fromkeys(ids, "live"), timeout=20,
                     what="the page to list every server as live", interval=0.25)
    bucket_rows = _bucket_rows(browser, "shown")
    assert len(bucket_rows) == 1 and "1" in bucket_rows[0]
    assert browser.find_elements(By.CSS_SELECTOR, "#chart svg")
    assert not browser.find_element(By.ID, "error").is_displayed()

    victim = cluster.blockstore_names[1]
    cluster.kill(victim, signal.SIGKILL)
    expected = dict.fromkeys(ids, "live") | {cluster.server_id(victim): "dead"}
    # Without reloading: the page refreshes itself.
    cluster.wait_for(lambda: _shown_states(browser) == expected, timeout=30,
                     what="the page to show the killed blockstore as dead", interval=0.25)
    summary = browser.find_element(By.ID, "summary").text
    assert "2 / 3" in summary  # servers live
    # Nothing the page asked for was refused or failed (assets, data).
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
