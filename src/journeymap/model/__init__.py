"""The journey-map document (pure: no files, no frameworks)."""

from __future__ import annotations

from journeymap.model.base import (
    Card,
    Confidence,
    Duration,
    Emotion,
    Evidence,
    EvidenceKind,
    format_duration,
    parse_duration,
)
from journeymap.model.journey import (
    KPI,
    SCHEMA,
    Branch,
    Fork,
    JourneyMap,
    Opportunity,
    PainPoint,
    Scope,
    Stage,
    Step,
    SubStage,
)
from journeymap.model.migrate import CURRENT_SCHEMA, migrate, register_migration
from journeymap.model.persona import Persona, Stakeholder
from journeymap.model.rules import Condition, EventRule, SegmentRule
from journeymap.model.schema import json_schema
from journeymap.model.validate import check_references, validate_map

__all__ = [
    "CURRENT_SCHEMA",
    "KPI",
    "SCHEMA",
    "Branch",
    "Card",
    "Condition",
    "Confidence",
    "Duration",
    "Emotion",
    "EventRule",
    "Evidence",
    "EvidenceKind",
    "Fork",
    "JourneyMap",
    "Opportunity",
    "PainPoint",
    "Persona",
    "Scope",
    "SegmentRule",
    "Stage",
    "Stakeholder",
    "Step",
    "SubStage",
    "check_references",
    "format_duration",
    "json_schema",
    "migrate",
    "parse_duration",
    "register_migration",
    "validate_map",
]
