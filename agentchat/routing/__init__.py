"""Between the XMPP component and the service's parts: which virtual contacts exist and who
may talk to them (``directory``), and where each inbound stanza goes (``inbound``)."""
