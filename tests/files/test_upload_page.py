"""The operators' upload page in the admin, driven in a real headless Chromium."""

import hashlib
import os
import shutil
import time

import pytest

from files import conf as files_conf
from files.models import FileUpload

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser_page(live_server, monkeypatch):
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes between browser steps are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
        )
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            yield page
        finally:
            browser.close()


def login(page, live_server, user) -> None:
    page.goto(f"{live_server.url}/admin/login/?next=/admin/files/uploadpage/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#uploader")


def test_an_operator_uploads_a_file_of_several_chunks_and_sees_it_complete(
    browser_page, live_server, staff, tmp_path, monkeypatch
):
    """GIVEN the upload page, a 64 KiB chunk size and a connection that drops once
    WHEN an operator picks a 300 KiB CSV
    THEN it is uploaded in chunks (the dropped one retried), validated, and
    shown COMPLETED with a link to its admin page."""
    monkeypatch.setattr(files_conf, "CHUNK_SIZE", 64 * 1024)
    content = ("id,value\n" + "".join(f"{i},{i * i}\n" for i in range(30_000))).encode()
    path = tmp_path / "squares.csv"
    path.write_bytes(content)
    patches = {"seen": 0}

    def drop_the_second_chunk(route):
        if route.request.method == "PATCH":
            patches["seen"] += 1
            if patches["seen"] == 2:
                route.abort("connectionreset")
                return
        route.continue_()

    page = browser_page
    login(page, live_server, staff)
    page.route("**/api/v1/files/tus/**", drop_the_second_chunk)
    page.set_input_files("#uploader-input", str(path))
    page.wait_for_selector(".uploader-item[data-state=completed]")

    upload = FileUpload.objects.get(filename="squares.csv")
    assert upload.sha256 == hashlib.sha256(content).hexdigest()
    assert upload.status == "completed"
    assert patches["seen"] > len(content) // (64 * 1024)  # chunks, plus the retried one
    link = page.get_attribute(".uploader-item .uploader-link", "href")
    assert link == f"/admin/files/fileupload/{upload.pk}/change/"
    assert page.inner_text(".uploader-item .uploader-percent") == "100%"


def _created(*, filename: str, within: float = 30) -> FileUpload:
    """The upload once the server has created it (waits, polling)."""
    deadline = time.monotonic() + within
    while (upload := FileUpload.objects.filter(filename=filename).first()) is None:
        assert time.monotonic() < deadline, f"{filename} was never created"
        time.sleep(0.05)
    return upload


def test_an_operator_drops_several_files_pauses_one_and_resumes_it(browser_page, live_server, staff, monkeypatch):
    monkeypatch.setattr(files_conf, "CHUNK_SIZE", 32 * 1024)
    page = browser_page
    login(page, live_server, staff)
    # Files dropped from the desktop arrive as a drop event's DataTransfer.
    page.evaluate(
        """() => {
          const transfer = new DataTransfer();
          const big = "n\\n" + Array.from({length: 60000}, (_, i) => i).join("\\n") + "\\n";
          transfer.items.add(new File([big], "big.csv", {type: "text/csv"}));
          transfer.items.add(new File(['{"a": 1}'], "small.json", {type: "application/json"}));
          const zone = document.getElementById("uploader-drop");
          zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true, cancelable: true}));
        }"""
    )
    big = page.locator(".uploader-item", has_text="big.csv")
    big.locator(".uploader-pause").click()
    assert big.get_attribute("data-state") == "paused"
    # The pause may come while the upload's creation is still in flight.
    paused_at = _created(filename="big.csv").offset

    big.locator(".uploader-resume").click()
    page.wait_for_selector(".uploader-item:has-text('big.csv')[data-state=completed]")
    page.wait_for_selector(".uploader-item:has-text('small.json')[data-state=completed]")

    finished = FileUpload.objects.get(filename="big.csv")
    assert paused_at < finished.size
    assert finished.status == "completed"
    assert FileUpload.objects.get(filename="small.json").status == "completed"


def test_the_upload_page_is_for_staff_only(client, alice):
    client.force_login(alice)

    response = client.get("/admin/files/uploadpage/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_the_upload_page_tells_the_uploader_where_to_send_files(client, staff):
    client.force_login(staff)

    response = client.get("/admin/files/uploadpage/")

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-tus-url="/api/v1/files/tus"' in html
    assert "files/uploader.js" in html
