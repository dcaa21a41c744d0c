"""``python -m agentchat``: same as the ``agentchat`` console script."""

import sys

from agentchat.cli import main

sys.exit(main())
