"""Settings, read from the environment (prefix ``JOURNEYMAP_``) on request only.

There is no global settings instance: callers build ``Settings()`` where they need one
and pass it down, so tests and the web app can run several configurations side by side.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]


class Settings(BaseSettings):
    """journeymap settings; every field can be set as ``JOURNEYMAP_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JOURNEYMAP_", extra="ignore")

    workspace: Path = Field(default=Path(), description="Workspace folder.")
    engine: str | None = Field(
        default=None, description="Ibis connection URL; default: the workspace's DuckDB file."
    )
    lang: str = Field(default="en", description="Language of generated text: en or ko.")
    debug: bool = Field(default=False, description="Show tracebacks instead of messages.")
    chromium: Path = Field(
        default=Path("/usr/bin/chromium"), description="Chromium used for PNG and browser tests."
    )
