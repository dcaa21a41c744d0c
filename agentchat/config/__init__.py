"""Configuration: the typed model and its loader (file + env, one-line errors)."""

from agentchat.config.load import ConfigError, LoadedConfig, load_config
from agentchat.config.model import Config

__all__ = ["Config", "ConfigError", "LoadedConfig", "load_config"]
