"""Converse.js in a real headless Chromium (Debian's chromium + chromedriver, selenium).

Selenium is synchronous: the tests call these methods through ``asyncio.to_thread`` so the
in-process service keeps running while the browser waits. Every wait is explicit (an element,
a text, a model value) with a generous deadline: a loaded 2-core machine renders slowly.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from selenium import webdriver
from selenium.common.exceptions import (
    NoSuchElementException,
    StaleElementReferenceException,
    TimeoutException,
)
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

T = TypeVar("T")
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 60.0  # seconds for one expected change on the page
# Flags known to work headless here, as root, with no network but loopback.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--lang=en-US",
)


# Injected before the page's scripts (tests only; the page has no such hook): when Converse.js
# sets window.converse, its initialize() is wrapped to whitelist one more plugin, which keeps
# the internal _converse object where the tests can read its models (presence, status text).
MODEL_BRIDGE = """
(() => {
  let current;
  Object.defineProperty(window, "converse", {
    configurable: true,
    get() { return current; },
    set(value) {
      current = value;
      if (!value || typeof value.initialize !== "function" || value.__agentchatTest) return;
      const initialize = value.initialize;
      value.__agentchatTest = true;
      value.initialize = function (settings) {
        value.plugins.add("agentchat-test", {
          initialize() { window.__agentchatConverse = this._converse; },
        });
        const plugins = [...(settings.whitelisted_plugins || []), "agentchat-test"];
        return initialize.call(this, { ...settings, whitelisted_plugins: plugins });
      };
    },
  });
})();
"""


class BrowserError(AssertionError):
    """Something expected did not show up in the page; the message says what was there."""


class ConversePage:
    """One Chromium with the agentchat web page, driven like a person would."""

    def __init__(self, size: tuple[int, int] = (1100, 860)) -> None:
        for binary in (CHROMIUM, CHROMEDRIVER):
            if not Path(binary).exists():
                raise BrowserError(f"{binary} is missing: run scripts/bootstrap "
                                   "(apt-get install chromium chromium-driver)")
        self._profile = tempfile.mkdtemp(prefix="agentchat-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = CHROMIUM
        for flag in (*FLAGS, f"--user-data-dir={self._profile}",
                     f"--window-size={size[0]},{size[1]}"):
            options.add_argument(flag)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        self.driver = webdriver.Chrome(options=options, service=ChromeService(CHROMEDRIVER))
        self.driver.set_page_load_timeout(WAIT)
        self.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument",
                                    {"source": MODEL_BRIDGE})

    def quit(self) -> None:
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self._profile, ignore_errors=True)

    # -- waiting -----------------------------------------------------------------------------

    def wait(self, condition: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
        """Poll ``condition`` until it returns something truthy; fail with the page's text."""
        def probe(_driver: Any) -> T | None:
            try:
                return condition()
            except (NoSuchElementException, StaleElementReferenceException):
                return None

        try:
            return WebDriverWait(self.driver, timeout, poll_frequency=0.2).until(probe)
        except TimeoutException:
            raise BrowserError(f"not in the page after {timeout:.0f}s: {what}\n"
                               f"--- page text ---\n{self.page_text()}") from None

    def element(self, css: str, what: str = "", *, root: WebElement | None = None,
                visible: bool = True) -> WebElement:
        def find() -> WebElement | None:
            el = (root or self.driver).find_element(By.CSS_SELECTOR, css)
            return el if (not visible or el.is_displayed()) else None
        return self.wait(find, what or css)

    def page_text(self) -> str:
        try:
            return str(self.driver.execute_script("return document.body.innerText"))[-3000:]
        except Exception as exc:  # the page itself may be what broke
            return f"(no page text: {exc})"

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))

    def console(self) -> list[dict[str, Any]]:
        return list(self.driver.get_log("browser"))

    # -- login and roster --------------------------------------------------------------------

    def open(self, url: str) -> str:
        """Load the page; returns the JID the login form is filled in with."""
        self.driver.get(url)
        return self.element("#converse-login-jid", "the login form").get_attribute("value") or ""

    def log_in(self, password: str) -> None:
        self.element("#converse-login-password").send_keys(password)
        self.element("#converse-login button[type=submit]").click()
        self.element("converse-user-profile, .controlbox-heading__btn.show-client-info",
                     "the logged-in control box")

    def contact(self, jid: str) -> WebElement:
        return self.element(f'converse-roster-contact a.open-chat[data-jid="{jid}"]',
                            f"{jid} in the roster")

    def contact_show(self, jid: str) -> str:
        """online / busy / away / offline from the roster's status icon; "none" without one
        (Converse draws it only once we are subscribed to the contact's presence)."""
        icons = self.contact(jid).find_elements(By.CSS_SELECTOR, "converse-icon.chat-status")
        for icon in icons:
            match = re.search(r"chat-status-(\w+)", icon.get_attribute("color") or "")
            if match:
                return match.group(1)
        return "none"

    def presence_model(self, jid: str) -> dict[str, str | None] | None:
        """The roster contact's presence as Converse's models hold it: show and status text."""
        result = self.driver.execute_script("""
            const contact = window.__agentchatConverse?.state?.roster?.get(arguments[0]);
            if (!contact) return null;
            return {presence: contact.presence?.get("presence") ?? null,
                    show: contact.presence?.get("show") ?? null,
                    status: contact.get("status") ?? null};
        """, jid)
        return None if result is None else dict(result)

    def wait_contact_show(self, jid: str, show: str) -> None:
        self.wait(lambda: self.contact_show(jid) == show, f"{jid} shown as {show} in the roster")

    def accept_contact_request(self, jid: str) -> None:
        """The roster's "Accept as contact" for ``jid``, then the dialog's Accept button."""
        row = self.contact(jid).find_element(By.XPATH, "./ancestor::converse-roster-contact")
        row.find_element(By.CSS_SELECTOR, "converse-dropdown button.dropdown-toggle").click()
        self.element(".accept-xmpp-request", root=row).click()
        modal = self.element("converse-accept-contact-request-modal .modal-content",
                             "the accept-contact dialog")
        modal.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

    # -- chats -------------------------------------------------------------------------------

    def open_chat(self, jid: str) -> None:
        self.contact(jid).click()
        self.element(f'converse-chat[jid="{jid}"] textarea.chat-textarea', f"the chat with {jid}")

    def send(self, jid: str, text: str) -> None:
        area = self.element(f'converse-chat[jid="{jid}"] textarea.chat-textarea')
        area.send_keys(text, Keys.ENTER)
        self.wait(lambda: area.get_attribute("value") == "", f"{text!r} sent")

    def messages(self, jid: str) -> list[tuple[str, str, WebElement]]:
        """(sender bare JID, text, element) of every message in the chat with ``jid``, read in
        one go (the chat re-renders while messages arrive and are corrected)."""
        rows = self.driver.execute_script("""
            const chat = document.querySelector(`converse-chat[jid="${arguments[0]}"]`);
            if (!chat) return [];
            return [...chat.querySelectorAll(".chat-msg")].map((msg) => {
                const text = msg.querySelector(".chat-msg__text");
                return [msg.dataset.from || "", text ? text.innerText : "", msg];
            });
        """, jid)
        return [(str(sender).split("/")[0], str(text), el) for sender, text, el in rows]

    def wait_message(self, jid: str, pattern: str | re.Pattern[str],
                     timeout: float = WAIT) -> tuple[str, WebElement]:
        """The first message from ``jid`` whose text matches; returns (text, element)."""
        regex = pattern if isinstance(pattern, re.Pattern) else re.compile(re.escape(pattern))

        def find() -> tuple[str, WebElement] | None:
            for sender, text, el in self.messages(jid):
                if sender == jid and regex.search(text):
                    return text, el
            return None
        return self.wait(find, f"a message from {jid} matching {regex.pattern!r}", timeout)

    def notification(self, jid: str) -> str:
        """The chat's notice line (Converse's rendering of chat states: "… is typing")."""
        el = self.driver.find_element(
            By.CSS_SELECTOR, f'converse-chat[jid="{jid}"] .chat-content__notifications')
        return str(el.text)

    def react(self, message: WebElement, emoji: str) -> None:
        """The message's actions menu → "Add Reaction" → ``emoji`` in the picker."""
        self.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", message)
        webdriver.ActionChains(self.driver).move_to_element(message).perform()
        toggle = self.element("converse-message-actions button.dropdown-toggle",
                              "the message's actions menu", root=message, visible=False)
        self.driver.execute_script("arguments[0].click()", toggle)
        self.element(".chat-msg__action-reaction", "Add Reaction", root=message).click()

        def pick() -> WebElement | None:
            for item in message.find_elements(By.CSS_SELECTOR,
                                              "converse-reaction-picker .reaction-item"):
                if item.is_displayed() and emoji in (item.text or ""):
                    return item
            return None
        self.wait(pick, f"{emoji} in the reaction picker").click()

    # -- ad-hoc commands ---------------------------------------------------------------------

    def list_commands(self, jid: str) -> list[str]:
        """Settings → Commands for ``jid``: the names listed (fails on "No commands found")."""
        self.element(".controlbox-heading__btn.show-client-info", "the settings button").click()
        form = self.element("converse-adhoc-commands form", "the commands form")
        field = form.find_element(By.CSS_SELECTOR, "input[name=jid]")
        field.clear()  # Converse fills in the server's domain
        field.send_keys(jid)
        form.find_element(By.CSS_SELECTOR, "input[type=submit]").click()

        def listed() -> list[str] | None:
            root = self.driver.find_element(By.CSS_SELECTOR, "converse-adhoc-commands")
            if "No commands found" in root.text or "doesn't support" in root.text:
                raise BrowserError(f"Converse found no commands on {jid}: {root.text}")
            names = [a.text for a in root.find_elements(By.CSS_SELECTOR, "a[data-command-node]")]
            return names or None
        return self.wait(listed, f"the command list of {jid}")

    def run_command(self, name: str) -> str:
        """Run the listed command ``name``; returns the text of its result (the note)."""
        root = self.element("converse-adhoc-commands")
        link = root.find_element(By.CSS_SELECTOR, f'a[data-command-name="{name}"]')
        item = link.find_element(By.XPATH, "./ancestor::li")
        link.click()
        alert = self.element(".alert", f"the result of {name}", root=item)
        return str(alert.text)
