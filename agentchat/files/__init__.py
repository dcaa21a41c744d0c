"""Files in both directions: the owner's uploads into the agent's tree, the agent's files out.

Everything travels through the XMPP server's HTTP upload service (XEP-0363) and is announced
with out-of-band data (XEP-0066), the way XMPP clients share files with each other.
"""
