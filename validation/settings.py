"""The plugin's settings: the one place that holds every default and bound.

Stash sends only the settings a user has saved (a checkbox never touched is absent,
numbers may arrive as strings), and its settings page cannot show defaults. So every
field here has a default, every boolean is phrased so that False is the default, and
Stash2Plex.yml states each default in its description (tests/unit/test_manifest.py
holds the two together).

A bad optional value falls back to its default with a warning instead of disabling
the plugin; the two settings nothing works without (plex_url, plex_token) raise a
ConfigError that names the setting and the fix, and so does a path_map that cannot be
read (syncing without the user's map would match no file, or the wrong one) and a
title_template that cannot be read (falling back would write other titles than the
user asked for to every scene synced meanwhile).

Text settings that hold a list or a pattern are parsed here, once: `path_map` becomes
a PathMap, `title_template` a TitleTemplate, `plex_library` the tuple `libraries`,
`excluded_tags` the frozenset `excluded_tag_names`, `required_tags` and
`excluded_scene_tags` the frozensets `required_tag_names` and `excluded_scene_tag_names`.
The text fields keep what Stash sent, so the fingerprint of the same saved settings
never changes.
"""

from __future__ import annotations

from typing import Any, Dict, FrozenSet, List, Literal, Tuple
from urllib.parse import urlsplit

from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, ValidationInfo,
                      field_validator)

from errors.kinds import ConfigError
from validation.pathmap import PathMap
from validation.title_template import TitleTemplate

PLUGIN_ID = "Stash2Plex"
SETTINGS_PAGE = "Settings → Plugins → Stash2Plex"

# Settings without a field on Stash's settings page: tuning the core keeps these fixed.
INTERNAL_FIELDS = frozenset(
    {"breaker_threshold", "breaker_recovery_start", "breaker_recovery_cap"}
)


class Settings(BaseModel):
    """Validated settings; read as `settings.x`, never with getattr defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True, str_strip_whitespace=True)

    # Connection
    plex_url: str = ""
    plex_token: str = Field("", repr=False)
    plex_library: str = ""  # read as `libraries`
    path_map: str = PathMap()  # always a PathMap: the text as saved, parsed into rules
    plex_timeout: float = Field(15.0, ge=1, le=300)
    plex_concurrency: int = Field(4, ge=1, le=4)  # Plex requests in flight at once (a household server)
    plex_ca_bundle: str = ""  # a PEM file that trusts Plex's certificate; empty: the system's trust store
    plex_skip_tls_verify: bool = False  # for a self-signed local server only

    # What is synced (unchecked = synced)
    skip_title: bool = False
    skip_summary: bool = False
    skip_date: bool = False
    skip_studio: bool = False
    skip_performers: bool = False
    skip_tags: bool = False
    skip_collections: bool = False
    skip_studio_collection: bool = False
    skip_rating: bool = False
    skip_poster: bool = False
    skip_director: bool = False
    sync_background: bool = False
    title_template: str = TitleTemplate()  # always a TitleTemplate: the text as saved, parsed
    code_in_summary: bool = False
    poster_style: Literal["screenshot", "letterbox"] = "screenshot"
    keep_plex_edits: bool = False
    excluded_tags: str = ""  # read as `excluded_tag_names`
    max_list_items: int = Field(100, ge=1, le=1000)

    # Which scenes go to Plex (mapping/scene_filter.py); empty = every scene
    only_organized: bool = False
    required_tags: str = ""  # read as `required_tag_names`
    excluded_scene_tags: str = ""  # read as `excluded_scene_tag_names`; not excluded_tags (genres)

    # Matching
    allow_ambiguous_match: bool = False
    scan_missing_folders: bool = False
    index_full_refresh_hours: float = Field(24.0, ge=1, le=24 * 30)

    # Queue and retries
    max_retries: int = Field(5, ge=1, le=20)
    retry_base_seconds: float = Field(5.0, ge=0.1, le=3600)
    retry_cap_seconds: float = Field(80.0, ge=1, le=86400)
    not_found_base_seconds: float = Field(30.0, ge=1, le=86400)
    not_found_cap_seconds: float = Field(600.0, ge=1, le=86400)
    not_found_max_attempts: int = Field(12, ge=1, le=100)
    poll_interval: float = Field(1.0, ge=0.1, le=60)
    drainer_linger_seconds: float = Field(60.0, ge=0, le=3600)
    dlq_retention_days: int = Field(30, ge=1, le=365)

    # Plex → Stash activity (plays, resume points, ratings)
    import_plex_activity: bool = False
    activity_minutes: int = Field(15, ge=1, le=1440)
    skip_plex_ratings: bool = False
    plex_accounts: str = ""  # read as `account_names`

    # Logging
    obfuscate_paths: bool = False
    debug_logging: bool = False

    # Circuit breaker (internal: not on the settings page)
    breaker_threshold: int = Field(5, ge=1, le=100)
    breaker_recovery_start: float = Field(10.0, ge=0.1, le=3600)
    breaker_recovery_cap: float = Field(60.0, ge=0.1, le=86400)

    _libraries: Tuple[str, ...] = PrivateAttr(())
    _excluded_tag_names: FrozenSet[str] = PrivateAttr(frozenset())
    _required_tag_names: FrozenSet[str] = PrivateAttr(frozenset())
    _excluded_scene_tag_names: FrozenSet[str] = PrivateAttr(frozenset())
    _account_names: Tuple[str, ...] = PrivateAttr(())

    def model_post_init(self, _context: Any) -> None:
        """Parse the list settings once; readers get the typed values."""
        self._libraries = _names(self.plex_library)
        self._excluded_tag_names = _folded(self.excluded_tags)
        self._required_tag_names = _folded(self.required_tags)
        self._excluded_scene_tag_names = _folded(self.excluded_scene_tags)
        self._account_names = _names(self.plex_accounts)

    @field_validator("poster_style", mode="before")
    @classmethod
    def _poster_style_word(cls, value: Any) -> Any:
        """Stash saves a STRING setting as typed: ' Letterbox' is letterbox, '' the default."""
        if isinstance(value, str):
            return value.strip().lower() or "screenshot"
        return value

    @field_validator("plex_url")
    @classmethod
    def _plex_url_shape(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "plex_url must look like http://127.0.0.1:32400 (scheme, host and port)"
            )
        try:
            parts.port  # noqa: B018 - raises ValueError on a bad port
        except ValueError as exc:
            raise ValueError(f"plex_url has a bad port: {exc}") from None
        return value.rstrip("/")

    @field_validator("path_map")
    @classmethod
    def _parse_path_map(cls, value: str) -> PathMap:
        return PathMap(value)  # ValueError names the bad rule

    @field_validator("title_template")
    @classmethod
    def _parse_title_template(cls, value: str) -> TitleTemplate:
        return TitleTemplate(value)  # ValueError names the unknown placeholder or the stray brace

    @field_validator("excluded_scene_tags")
    @classmethod
    def _not_also_required(cls, value: str, info: ValidationInfo) -> str:
        both = sorted(_folded(value) & _folded(info.data.get("required_tags") or ""))
        if both:
            raise ValueError(f"it names '{both[0]}', which required_tags also names (a scene cannot be "
                             f"both required and left alone); remove it from one of the two")
        return value

    @property
    def libraries(self) -> Tuple[str, ...]:
        """The Plex libraries named in plex_library, in the order given; empty: every movie library."""
        return self._libraries

    @property
    def excluded_tag_names(self) -> FrozenSet[str]:
        """The tags named in excluded_tags, casefolded (matching ignores case)."""
        return self._excluded_tag_names

    @property
    def required_tag_names(self) -> FrozenSet[str]:
        """The tags named in required_tags, casefolded; empty: no tag is required."""
        return self._required_tag_names

    @property
    def excluded_scene_tag_names(self) -> FrozenSet[str]:
        """The tags named in excluded_scene_tags, casefolded: a scene with one is left alone."""
        return self._excluded_scene_tag_names

    @property
    def account_names(self) -> Tuple[str, ...]:
        """The other Plex accounts named in plex_accounts, whose plays come back too."""
        return self._account_names

    def require_plex(self) -> None:
        """Raise a ConfigError naming the fix when Plex cannot even be addressed."""
        if not self.plex_url:
            raise ConfigError(
                f"plex_url is not set: enter your Plex server address (for example "
                f"http://127.0.0.1:32400) on {SETTINGS_PAGE}."
            )
        if not self.plex_token:
            raise ConfigError(
                f"plex_token is not set: paste your Plex token on {SETTINGS_PAGE} "
                f"(README: 'Finding your Plex token')."
            )

    def fingerprint(self) -> str:
        """A short hash of the settings, so a stored config error is retried once they change."""
        import hashlib
        import json

        values = self.model_dump()
        for name in ADDED_FIELDS:  # at their default, older saved settings keep their fingerprint
            if values.get(name) == Settings.model_fields[name].default:
                values.pop(name)
        blob = json.dumps(values, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


# Bad values that stop syncing instead of falling back: no default could stand in for them.
NO_FALLBACK_FIELDS = ("plex_url", "path_map", "title_template")
# A scene filter that cannot be read stops syncing too: its default would send Plex the
# scenes the user wanted left alone.
NO_FALLBACK_FIELDS += ("only_organized", "required_tags", "excluded_scene_tags")
# Settings added after fingerprints were first stored (tests/unit/test_settings.py pins
# them); left at their default, they leave the fingerprint of older saved settings as it was.
ADDED_FIELDS = ("skip_director", "title_template", "code_in_summary",
                "only_organized", "required_tags", "excluded_scene_tags", "poster_style",
                "import_plex_activity", "activity_minutes", "skip_plex_ratings", "plex_accounts",
                "drainer_linger_seconds", "plex_concurrency")


def _names(text: str) -> Tuple[str, ...]:
    """A comma-separated setting as its non-empty names."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def _folded(text: str) -> FrozenSet[str]:
    """A comma-separated list of tag names as Stash2Plex compares them: trimmed, casefolded."""
    return frozenset(name.casefold() for name in _names(text))


def _coerce(raw: Dict[str, Any]) -> Dict[str, Any]:
    """Stash sends unsaved settings as absent and may send numbers or booleans as strings."""
    known = Settings.model_fields
    out: Dict[str, Any] = {}
    for key, value in (raw or {}).items():
        if key not in known or value is None:
            continue
        if isinstance(value, str) and known[key].annotation is bool:
            lowered = value.strip().lower()
            if lowered in ("", "false", "0", "no", "off"):
                value = False
            elif lowered in ("true", "1", "yes", "on"):
                value = True
        if isinstance(value, str) and value.strip() == "" and known[key].annotation in (int, float):
            continue  # an emptied number box means "use the default"
        out[key] = value
    return out


def load_settings(raw: Dict[str, Any]) -> Tuple[Settings, List[str]]:
    """Validate Stash's settings map; bad optional values fall back with a warning.

    Returns the settings and a list of human warnings. A bad required value raises
    ConfigError naming the setting and what to enter.
    """
    if raw is not None and not isinstance(raw, dict):
        raise ConfigError(f"plugin settings from Stash are not an object; re-save them on {SETTINGS_PAGE}.")
    values = _coerce(raw or {})
    warnings: List[str] = []
    for _ in range(len(values) + 1):
        try:
            return Settings(**values), warnings
        except ValidationError as exc:
            for err in exc.errors():
                name = str(err["loc"][0]) if err["loc"] else "?"
                reason = err["msg"].replace("Value error, ", "")
                if name in NO_FALLBACK_FIELDS:
                    raise ConfigError(f"Setting {name} is invalid: {reason}. Fix it on {SETTINGS_PAGE}.") from None
                default = Settings.model_fields[name].default if name in Settings.model_fields else None
                warnings.append(
                    f"Setting {name} is invalid ({reason}); using the default {default!r} instead."
                )
                values.pop(name, None)
    raise ConfigError(f"plugin settings could not be validated; re-save them on {SETTINGS_PAGE}.")
