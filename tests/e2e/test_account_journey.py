"""The account journey in Chromium, in Chinese (the default locale):
register → waiting page → activation mail → activate → log out → log in.

Assertions are on what the user sees: headings, messages, buttons, the
address bar. The harness (conftest.py) fails a test on any console error,
uncaught exception, CSP violation or failed request.
"""

import re

from playwright.sync_api import expect

EMAIL = "li.hua@example.edu"
PASSWORD = "plum blossom river 1987"

# What the Chinese UI shows (translations/zh_CN).
EMAIL_LABEL = "邮箱"  # 用户名（邮箱）
PASSWORD_LABEL = "密码"  # exact: 密码确认 is the other one
CONFIRM_LABEL = "密码确认"
TERMS_LABEL = "我已阅读并同意服务条款"
REGISTER = "注册"
CHECK_MAILBOX = "请查收邮件"
ACTIVATE_HEADING = "激活账号"
ACTIVATE_BUTTON = "激活账号"
ACTIVATE_EXPLAINED = "请点击下方按钮激活账号"
ACTIVATED = "您的账号已激活。"
LOG_OUT = "退出登录"
LOGGED_OUT = "您已退出登录。"
LOG_IN = "登录"
INVALID_EMAIL = "请填写有效邮箱地址。"
TOO_SHORT = "至少需要8个字符。"


def log_out_button(page):
    """The header's log-out button (the account page also has 'log out everywhere')."""
    return page.locator("header").get_by_role("button", name=LOG_OUT, exact=True)


def fill_register_form(page, email=EMAIL, password=PASSWORD):
    page.get_by_label(EMAIL_LABEL).fill(email)
    page.get_by_label(PASSWORD_LABEL, exact=True).fill(password)
    page.get_by_label(CONFIRM_LABEL).fill(password)
    page.get_by_label(TERMS_LABEL).check()


def expect_waiting_page(page, email=EMAIL):
    expect(page).to_have_url(re.compile(r"/register/sent$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(CHECK_MAILBOX)
    expect(page.locator("main")).to_contain_text(email)


def expect_login_page(page):
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(LOG_IN)
    expect(log_out_button(page)).to_have_count(0)


def log_in(page, email=EMAIL, password=PASSWORD):
    page.get_by_label(EMAIL_LABEL).fill(email)
    page.get_by_label(PASSWORD_LABEL, exact=True).fill(password)
    page.get_by_role("button", name=LOG_IN, exact=True).click()


def activation_link(smtp, newest_link, email=EMAIL):
    mail = smtp.wait(1)[-1]
    assert email in mail["To"]
    return newest_link(smtp, "/activate/")


def test_register_activate_log_out_and_in(live_server, page, smtp, newest_link):
    page.goto(live_server.url("/register"))
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_role("heading", level=1)).to_contain_text(REGISTER)

    fill_register_form(page)
    page.get_by_role("button", name=REGISTER, exact=True).click()
    expect_waiting_page(page)

    # The link from the mail, opened in the same browser: a button, not yet active.
    page.goto(activation_link(smtp, newest_link))
    expect(page.get_by_role("heading", level=1)).to_have_text(ACTIVATE_HEADING)
    expect(page.locator("main")).to_contain_text(ACTIVATE_EXPLAINED)
    expect(page.get_by_role("button", name=ACTIVATE_BUTTON)).to_be_visible()
    expect(page.get_by_text(ACTIVATED)).to_have_count(0)
    expect(log_out_button(page)).to_have_count(0)

    page.get_by_role("button", name=ACTIVATE_BUTTON).click()
    expect(page.get_by_text(ACTIVATED)).to_be_visible()
    expect(log_out_button(page)).to_be_visible()

    log_out_button(page).click()
    expect_login_page(page)
    expect(page.get_by_text(LOGGED_OUT)).to_be_visible()

    log_in(page)
    expect(log_out_button(page)).to_be_visible()
    expect(page).not_to_have_url(re.compile(r"/login$"))

    log_out_button(page).click()
    expect_login_page(page)
    expect(page.get_by_text(LOGGED_OUT)).to_be_visible()


def test_inline_validation_without_reload(live_server, page):
    page.goto(live_server.url("/register"))
    # Only a real page load would lose this marker.
    page.evaluate("window.__e2eMarker = 'still here'")

    email = page.get_by_label(EMAIL_LABEL)
    email_field = page.locator(".field").filter(has=email)
    email.fill("not-an-email")
    email.press("Tab")  # focus moves on: `change` fires, the field is validated
    expect(email_field.get_by_role("alert")).to_have_text(INVALID_EMAIL)
    expect(email).to_have_attribute("aria-invalid", "true")
    expect(email).to_have_value("not-an-email")

    # The password's own validation comes back morphed: what was typed stays.
    password = page.get_by_label(PASSWORD_LABEL, exact=True)
    password_field = page.locator(".field").filter(has=password)
    password.fill("short1")
    password.press("Tab")
    expect(password_field.get_by_role("alert")).to_have_text(TOO_SHORT)
    expect(password).to_have_attribute("aria-invalid", "true")
    expect(password).to_have_value("short1")

    password.fill(PASSWORD)
    password.press("Tab")
    expect(password_field.get_by_role("alert")).to_have_count(0)
    expect(password).to_have_attribute("aria-invalid", "false")
    expect(password).to_have_value(PASSWORD)

    # Correcting the address clears its error, too.
    email.fill(EMAIL)
    email.press("Tab")
    expect(email_field.get_by_role("alert")).to_have_count(0)
    expect(email).to_have_attribute("aria-invalid", "false")

    assert page.evaluate("window.__e2eMarker") == "still here", "the page was reloaded"
    expect(page).to_have_url(re.compile(r"/register$"))


def test_register_without_javascript(live_server, new_page, smtp, newest_link):
    page = new_page(java_script_enabled=False)
    page.goto(live_server.url("/register"))
    fill_register_form(page)
    page.get_by_role("button", name=REGISTER, exact=True).click()
    expect_waiting_page(page)
    assert "/activate/" in activation_link(smtp, newest_link)


def test_harness_catches_csp_violations_and_js_errors(live_server, page, browser_log):
    """The harness is not blind: an inline script (what a swap injecting one
    would run into) and an uncaught exception are both recorded."""
    page.goto(live_server.url("/login"))
    page.evaluate(
        """() => {
        const s = document.createElement("script");
        s.textContent = "window.__inlineRan = true";
        document.body.append(s);
        setTimeout(() => { throw new Error("e2e-boom"); });
    }"""
    )
    for _ in range(40):
        problems = browser_log.problems()
        if any("CSP violation" in p for p in problems) and any("e2e-boom" in p for p in problems):
            break
        page.wait_for_timeout(50)
    assert any("script-src" in p for p in problems), problems
    assert any(p.startswith("pageerror:") and "e2e-boom" in p for p in problems), problems
    assert page.evaluate("window.__inlineRan") is None
    browser_log.clear()  # provoked on purpose; the teardown check must pass
