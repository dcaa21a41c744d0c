"""The web client's page and the Prosody config that serves it (pure text)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from agentchat.config.load import load_config
from agentchat.prosody.config_text import ProsodySettings, render_prosody_config
from agentchat.web.page import (
    PageSettings,
    content_security_policy,
    render_config_js,
    render_index_html,
)

PAGE = PageSettings("chat.example.com", "manager@agents.chat.example.com", "me@chat.example.com")


def settings_of(script: str) -> dict[str, object]:
    match = re.search(r"^const settings = (\{.*?^\});$", script, re.S | re.M)
    assert match is not None, script
    return dict(json.loads(match.group(1)))


def test_converse_is_preconfigured_and_kept_offline() -> None:
    script = render_config_js(PAGE)
    settings = settings_of(script)
    assert settings["jid"] == "me@chat.example.com"
    assert settings["default_domain"] == "chat.example.com"
    assert settings["auto_subscribe"] is True  # Converse's "accept" never subscribes back
    assert settings["discover_connection_methods"] is False
    assert settings["autocomplete_providers_url"] == "" and settings["xmpp_providers_url"] == ""
    assert settings["whitelisted_plugins"] == ["agentchat"]
    assert 'const manager = "manager@agents.chat.example.com";' in script
    assert '"/xmpp-websocket"' in script and "location.host" in script
    assert "api.contacts.add" in script
    assert "http" not in json.dumps(settings)  # no URL anywhere in the settings


def test_index_loads_only_local_files_under_a_policy() -> None:
    page = render_index_html(PAGE)
    csp = content_security_policy(PAGE)
    assert f'content="{csp}"' in page
    assert "default-src 'self'" in csp and "connect-src 'self';" in csp
    assert "http" not in csp  # no other origin unless asked
    sources = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert sources and all(not s.startswith(("http:", "https:", "//")) for s in sources), sources


def test_http_visitors_are_sent_to_https_only_when_asked() -> None:
    assert "const httpsPort = null;" in render_config_js(PAGE)
    script = render_config_js(PageSettings("x.org", "manager@agents.x.org", https_port=5281))
    assert "const httpsPort = 5281;" in script and "location.replace(`https://" in script


def test_other_origins_only_when_asked_and_only_origins() -> None:
    page = PageSettings("x.org", "manager@agents.x.org",
                        allowed_origins=["https://files.x.org", "http://10.0.0.5:5280"])
    csp = content_security_policy(page)
    assert "connect-src 'self' https://files.x.org http://10.0.0.5:5280;" in csp
    assert "img-src 'self' data: blob: https://files.x.org" in csp
    for bad in ("https://x.org/path", "javascript:alert(1)", "https://a.org; script-src *"):
        with pytest.raises(ValueError):
            PageSettings("x.org", "manager@agents.x.org", allowed_origins=[bad])


def test_no_login_jid_means_an_empty_field() -> None:
    assert settings_of(render_config_js(PageSettings("x.org", "manager@agents.x.org")))[
        "jid"] is None


def test_prosody_serves_the_page_and_a_websocket_only_when_asked(tmp_path: Path) -> None:
    base = ProsodySettings("chat.example.com", "agents.chat.example.com", "s", 5222, 5347)
    plain = render_prosody_config(base, tmp_path / "data", tmp_path / "p.pid", as_root=False)
    assert "http_ports = { }" in plain and "websocket" not in plain
    files = ProsodySettings("chat.example.com", "agents.chat.example.com", "s", 5222, 5347,
                            http_port=5280)  # the upload service alone: no page
    only_files = render_prosody_config(files, tmp_path / "data", tmp_path / "p.pid", False)
    assert "http_ports = { 5280 }" in only_files and "websocket" not in only_files
    web = ProsodySettings("chat.example.com", "agents.chat.example.com", "s", 5222, 5347,
                          http_port=5280, web_root="/srv/web")
    text = render_prosody_config(web, tmp_path / "data", tmp_path / "p.pid", as_root=False)
    assert "http_ports = { 5280 }" in text
    assert 'http_interfaces = { "127.0.0.1" }' in text
    # One HTTP host for the page, the websocket and the upload links, whatever the Host header.
    assert 'http_default_host = "127.0.0.1"' in text
    host = text[text.index('VirtualHost "chat.example.com"'):text.index("Component ")]
    assert 'http_host = "127.0.0.1"' in host
    assert 'modules_enabled = { "websocket"; "http_files" }' in host
    assert 'http_files_dir = "/srv/web"' in host
    assert 'Component "upload.chat.example.com" "http_file_share"' in text


def test_web_client_switch(tmp_path: Path) -> None:
    env = {"XMPP_COMPONENT_SECRET": "s", "WORK_BASE_PATH": str(tmp_path),
           "AGENT_CHAT_HOME": str(tmp_path)}
    assert load_config(None, env).config.web.client is True
    assert load_config(None, {**env, "WEB_CLIENT": "off"}).config.web.client is False
    (tmp_path / "config.json").write_text(json.dumps({"web": {"client": False}}))
    assert load_config(None, env).config.web.client is False
