"""Who answers: model clients (LiteLLM), baselines, message building and answer extraction."""

from svgarena.agents._budget import Budget, BudgetExceeded, CallLedger, run_spend
from svgarena.agents._cache import CALLS_DB, ReplyCache, cache_key
from svgarena.agents._check import CheckResult, check_model
from svgarena.agents._direct import DirectModel
from svgarena.agents._baselines import VTRACER_PARAMS, BlankBaseline, OracleBaseline, VTracerBaseline, trace_image
from svgarena.agents._extract import CHOICE_RULES, SVG_RULES, Choice, Extraction, extract_svg, parse_choice
from svgarena.agents._litellm import LiteLLMModel, import_litellm
from svgarena.agents._managed import ManagedModel
from svgarena.agents._messages import (
    VIDEO_INPUTS, build_messages, bytes_data_url, data_url, image_mime, official_frame_indices, sample_frames, video_mime,
)
from svgarena.agents._registry import (
    BUILTIN_MODELS,
    MODELS_FILE_NAME,
    ModelSpec,
    Registry,
    RegistryError,
    config_dir,
    load_registry,
    register_endpoint,
    unregister_endpoint,
)
from svgarena.agents._resolve import BASELINES, get_model
from svgarena.agents._secrets import scrub
from svgarena.agents._retry import AdaptiveLimiter, ErrorClass, RetryPolicy, classify
from svgarena.agents._feedback import TARGET_MODES, Target, contact_sheet, load_target, render_view
from svgarena.agents._refine import DONE_MARKER, FEEDBACK_MODES, feedback_turn
from svgarena.agents._stops import STOP_ON, SampleBudget, uses_oracle
from svgarena.agents._tools import TOOL_PROTOCOLS, TOOLS, parse_native_call, parse_text_call, protocol_for
from svgarena.agents._solvers import AnimationCapture, SolverContext, attempt_once, get_solver, solver, solver_names
from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model, Reply, Usage

__all__ = [
    "AdaptiveLimiter",
    "AnimationCapture",
    "Attempt",
    "BASELINES",
    "BUILTIN_MODELS",
    "BlankBaseline",
    "Budget",
    "BudgetExceeded",
    "CALLS_DB",
    "CHOICE_RULES",
    "CallLedger",
    "CheckResult",
    "DONE_MARKER",
    "DirectModel",
    "FEEDBACK_MODES",
    "STOP_ON",
    "SampleBudget",
    "TARGET_MODES",
    "Target",
    "contact_sheet",
    "load_target",
    "render_view",
    "uses_oracle",
    "Choice",
    "ErrorClass",
    "Extraction",
    "LiteLLMModel",
    "MODELS_FILE_NAME",
    "ManagedModel",
    "Model",
    "ModelSpec",
    "OracleBaseline",
    "Registry",
    "RegistryError",
    "Reply",
    "ReplyCache",
    "RetryPolicy",
    "SVG_RULES",
    "SolverContext",
    "TOOLS",
    "TOOL_PROTOCOLS",
    "Trajectory",
    "Usage",
    "VTRACER_PARAMS",
    "VTracerBaseline",
    "attempt_once",
    "bytes_data_url",
    "VIDEO_INPUTS",
    "build_messages",
    "official_frame_indices",
    "cache_key",
    "check_model",
    "classify",
    "config_dir",
    "data_url",
    "extract_svg",
    "feedback_turn",
    "get_model",
    "get_solver",
    "image_mime",
    "import_litellm",
    "load_registry",
    "parse_choice",
    "parse_native_call",
    "parse_text_call",
    "protocol_for",
    "register_endpoint",
    "run_spend",
    "sample_frames",
    "scrub",
    "solver",
    "solver_names",
    "trace_image",
    "unregister_endpoint",
    "video_mime",
]
