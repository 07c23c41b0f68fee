"""Who answers: model clients (LiteLLM), baselines, message building and answer extraction."""

from svgarena.agents._baselines import VTRACER_PARAMS, BlankBaseline, OracleBaseline, VTracerBaseline, trace_image
from svgarena.agents._extract import CHOICE_RULES, SVG_RULES, Choice, Extraction, extract_svg, parse_choice
from svgarena.agents._litellm import LiteLLMModel
from svgarena.agents._messages import build_messages, bytes_data_url, data_url, image_mime, sample_frames
from svgarena.agents._resolve import BASELINES, get_model
from svgarena.agents._solvers import AnimationCapture, SolverContext, attempt_once, get_solver, solver, solver_names
from svgarena.agents._trajectory import Attempt, Trajectory
from svgarena.agents._types import Model, Reply, Usage

__all__ = [
    "AnimationCapture",
    "Attempt",
    "BASELINES",
    "BlankBaseline",
    "CHOICE_RULES",
    "Choice",
    "Extraction",
    "LiteLLMModel",
    "Model",
    "OracleBaseline",
    "Reply",
    "SVG_RULES",
    "SolverContext",
    "Trajectory",
    "Usage",
    "VTRACER_PARAMS",
    "VTracerBaseline",
    "attempt_once",
    "bytes_data_url",
    "build_messages",
    "data_url",
    "extract_svg",
    "get_model",
    "get_solver",
    "image_mime",
    "parse_choice",
    "sample_frames",
    "solver",
    "solver_names",
    "trace_image",
]
