-- agentchat: Prosody 0.12 configuration for the external component (XEP-0114).
--
-- agentchat connects to Prosody as ONE component, agents.<your domain>. The manager bot is
-- manager@agents.<your domain>; every agent is another address under that domain. Nothing
-- else is needed on the server: no bot accounts, no admin API, no community modules.
--
-- How to use this file (replace example.com with your XMPP domain everywhere):
--   * Debian/Ubuntu: copy it to /etc/prosody/conf.d/agentchat.cfg.lua (the stock
--     prosody.cfg.lua includes conf.d/*.cfg.lua at its end), or add
--         Include "/path/to/prosody-component.cfg.lua"
--     at the END of prosody.cfg.lua (after your VirtualHost sections);
--   * or paste it: the two global lines into the global section (before the first
--     VirtualHost), the Component block at the end of the file.
-- Then `prosodyctl check config` and `prosodyctl restart` (a reload does not open new ports).
--
-- `agentchat prosody-config` prints the same block filled in with the domain, port and secret
-- from agentchat's own configuration.

-- Global section ---------------------------------------------------------------------------

-- The port agentchat connects to (agentchat's xmpp.port / XMPP_PORT, default 5347).
component_ports = { 5347 }
-- The component protocol is authenticated by the shared secret only and is not encrypted:
-- keep it on loopback (agentchat runs on the same machine as Prosody).
component_interfaces = { "127.0.0.1" }

-- Component --------------------------------------------------------------------------------

-- Every address @agents.example.com (the manager, each agent, the bare domain) is delivered
-- to agentchat. Must differ from your VirtualHost; agentchat's xmpp.componentDomain /
-- XMPP_COMPONENT_DOMAIN defaults to "agents." .. xmpp.domain.
-- Users of OTHER servers can reach it only if this Prosody does s2s and DNS for
-- agents.example.com points here; users of example.com itself need nothing more.
Component "agents.example.com"
    -- The same value as agentchat's xmpp.componentSecret / XMPP_COMPONENT_SECRET. Generate
    -- a long random one, e.g.: python3 -c 'import secrets; print(secrets.token_urlsafe(32))'
    -- and keep this file readable by the prosody user only (chmod 640, group prosody).
    component_secret = "change-me-to-a-long-random-secret"

-- Optional: XEP-0356 Privileged Entity (mod_privilege) ------------------------------------
--
-- NOT required, and this version of agentchat does not use it. Without it, an agent gets
-- into your contact list the ordinary way: it sends you a subscription request (with its
-- name) and your client asks you to accept it.
-- What it would give: Prosody lets the component write to the rosters of the users of
-- example.com directly (roster "set"), so a new agent could be pushed into your contact
-- list without that subscription dance, and (presence "managed_entity") the component
-- would see whether you are online without a subscription. It is a powerful grant
-- (read/write access to EVERY roster of the host): only give it to a component you run
-- yourself.
--
-- mod_privilege is a community module: Debian/Ubuntu ship it in the `prosody-modules`
-- package (apt-get install prosody-modules); elsewhere get it from modules.prosody.im and
-- set plugin_paths. To enable it, uncomment:
--
-- 1. in the GLOBAL modules_enabled list of prosody.cfg.lua, add:
--        "privilege";
--
-- 2. in YOUR VirtualHost section (not here), grant the rights:
--    VirtualHost "example.com"
--        privileged_entities = {
--            ["agents.example.com"] = {
--                roster = "both";              -- read and write users' rosters
--                presence = "managed_entity";  -- receive the users' presence
--            };
--        }
--
-- 3. and load it for the component too, inside the Component block above:
--        modules_enabled = { "privilege" }

-- Files: HTTP upload (XEP-0363) ----------------------------------------------------------
--
-- Agents receive the files you share with them (screenshots, logs) and send you files
-- (`get <path>`, or when they decide to) through the server's own HTTP upload service, as
-- every XMPP client shares files. agentchat downloads only links of this service and uploads
-- as the agents' JIDs, so the service must let agents.example.com upload. An access list
-- replaces Prosody's default ("users of this server"): list your users' domain too.
--
-- If you already have an http_file_share component, only add the access line to it.
-- Clients download from Prosody's HTTP server: they must reach http_ports/https_ports
-- (and set http_external_url if they reach it under another name). `agentchat check`
-- says whether uploads work.
Component "upload.example.com" "http_file_share"
    http_file_share_access = { "example.com", "agents.example.com" }
    -- Optional: http_file_share_size_limit = 10 * 1024 * 1024 -- agentchat's files.maxSize
    -- (default 10 MB) limits what it downloads and uploads on its side.
