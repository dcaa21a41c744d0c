"""The Prosody config text: the operator's Component block and the private server's config."""

from __future__ import annotations

from pathlib import Path

import attrs

from agentchat.prosody.config_text import (
    ProsodySettings,
    lua_string,
    render_component_block,
    render_prosody_config,
)

SETTINGS = ProsodySettings(
    domain="example.com",
    component_domain="agents.example.com",
    component_secret="s3cret",
    c2s_port=15222,
    component_port=15347,
)


def _config(as_root: bool) -> str:
    return render_prosody_config(
        SETTINGS, Path("/srv/p/data"), Path("/srv/p/prosody.pid"), as_root=as_root
    )


def test_component_block_names_domain_secret_and_port() -> None:
    block = render_component_block("agents.chat.example.org", "t0p", 5347)
    assert 'Component "agents.chat.example.org"' in block
    assert 'component_secret = "t0p"' in block
    assert "component_ports = { 5347 }" in block
    assert 'component_interfaces = { "127.0.0.1" }' in block
    # The port options are global: they must come before the Component section opens.
    assert block.index("component_ports") < block.index('Component "')
    # Everything that is not an option is a Lua comment, so it can be pasted as is.
    for line in block.splitlines():
        stripped = line.strip()
        assert (
            not stripped
            or stripped.startswith("--")
            or stripped.startswith(("component_", "Component "))
        ), line


def test_secret_is_quoted_for_lua() -> None:
    assert lua_string('a"b\\c\nd') == '"a\\"b\\\\c\\010d"'
    block = render_component_block("agents.x", 'q"uote', 1)
    assert 'component_secret = "q\\"uote"' in block


def test_config_has_hosts_ports_and_plain_c2s() -> None:
    text = _config(as_root=False)
    assert 'VirtualHost "example.com"' in text
    assert 'Component "agents.example.com"' in text
    assert 'component_secret = "s3cret"' in text
    assert "c2s_ports = { 15222 }" in text
    assert 'c2s_interfaces = { "127.0.0.1" }' in text
    assert "component_ports = { 15347 }" in text
    assert 'component_interfaces = { "127.0.0.1" }' in text
    assert "s2s_ports = { }" in text
    assert "http_ports = { }" in text
    assert "c2s_require_encryption = false" in text
    assert "allow_unencrypted_plain_auth = true" in text
    assert 'authentication = "internal_hashed"' in text
    assert 'data_path = "/srv/p/data"' in text
    assert 'pidfile = "/srv/p/prosody.pid"' in text
    for module in ("roster", "saslauth", "carbons", "offline", "ping", "disco"):
        assert f'"{module}";' in text
    # Global options first: nothing may follow the Component's own option.
    assert text.rstrip().endswith('component_secret = "s3cret"')


def test_root_variant_allows_root_and_keeps_posix() -> None:
    assert "run_as_root" not in _config(as_root=False)
    root = _config(as_root=True)
    assert "run_as_root = true" in root
    # run_as_root instead of disabling mod_posix: SIGTERM stays a clean shutdown.
    assert '"posix"' not in root
    assert root.index("run_as_root") < root.index("VirtualHost")


def test_extra_components_and_no_nagle() -> None:
    settings = ProsodySettings(
        domain="example.com", component_domain="agents.example.com", component_secret="s",
        c2s_port=1, component_port=2, extra_components=(("echo.example.com", 'e"x'),),
    )
    text = render_prosody_config(settings, Path("/d/data"), Path("/d/p.pid"), as_root=False)
    assert text.index('Component "agents.example.com"') < text.index('Component "echo.example.com"')
    assert 'component_secret = "e\\"x"' in text
    assert "network_settings = { nagle = false }" in text
    assert text.index("network_settings") < text.index("VirtualHost")  # a global option
    assert "e\"x" not in repr(settings)


def test_two_agentchat_instances_on_one_server_may_both_share_files() -> None:
    settings = ProsodySettings(
        domain="example.com", component_domain="agents-a.example.com", component_secret="a",
        c2s_port=1, component_port=2, http_port=3,
        extra_components=(("agents-b.example.com", "b"),),
    )
    text = render_prosody_config(settings, Path("/d/data"), Path("/d/p.pid"), as_root=False)
    assert 'Component "agents-a.example.com"\n    component_secret = "a"' in text
    assert 'Component "agents-b.example.com"\n    component_secret = "b"' in text
    assert ('http_file_share_access = { "example.com", "agents-a.example.com", '
            '"agents-b.example.com" }') in text


def test_private_server_with_files_serves_uploads_on_loopback_only() -> None:
    text = render_prosody_config(
        attrs.evolve(SETTINGS, http_port=15280), Path("/d"), Path("/p"), as_root=False)
    assert "http_ports = { 15280 }" in text
    assert 'http_interfaces = { "127.0.0.1" }' in text
    upload = text[text.index('Component "upload.example.com" "http_file_share"'):]
    assert 'http_file_share_access = { "example.com", "agents.example.com" }' in upload
    assert 'http_host = "127.0.0.1"' in upload
    assert "http_ports = { }" in _config(as_root=False)  # no files: no HTTP server at all
    assert "http_file_share" not in _config(as_root=False)


def test_operator_snippet_lets_the_component_upload() -> None:
    block = render_component_block("agents.chat.example.org", "t0p", 5347, "chat.example.org")
    assert 'Component "upload.chat.example.org" "http_file_share"' in block
    assert ('http_file_share_access = { "chat.example.org", "agents.chat.example.org" }'
            in block)
    assert block.index('Component "agents.') < block.index('Component "upload.')


def test_group_chat_component_shows_real_jids_by_default() -> None:
    settings = ProsodySettings(
        domain="example.com", component_domain="agents.example.com", component_secret="s",
        c2s_port=1, component_port=2, muc_domain="rooms.example.com",
    )
    text = render_prosody_config(settings, Path("/d/data"), Path("/d/p.pid"), as_root=False)
    muc = text.index('Component "rooms.example.com" "muc"')
    assert text.index('Component "agents.example.com"') < muc
    assert text.index("muc_room_default_public_jids = true") > muc
    assert '"muc"' not in render_prosody_config(
        SETTINGS, Path("/d/data"), Path("/d/p.pid"), as_root=False)
