"""Test-wide settings: offline, local price list, no hub look-ups."""

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
# Local Ray clusters in tests bind to 127.0.0.1 only: with this off, Ray takes the loopback address as the
# node address (ray/_private/services.py get_node_ip_address) instead of the machine's interface.
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
