"""What is asked: Sample, Task, the SArena task registry, suites and the SArena loader."""

from svgarena.tasks._errors import SuiteError
from svgarena.tasks._registry import EDIT_SUBTASKS, TASK_IDS, TASKS, get_task, match_tasks
from svgarena.tasks._sarena import available_tasks, iter_samples, load_captions, load_samples, select_tasks
from svgarena.tasks._suites import DATA_ENV, SUITES, bundled_suite_path, resolve_suite
from svgarena.tasks._types import AnswerKind, Sample, Task

__all__ = [
    "AnswerKind",
    "DATA_ENV",
    "EDIT_SUBTASKS",
    "SUITES",
    "Sample",
    "SuiteError",
    "TASKS",
    "TASK_IDS",
    "Task",
    "available_tasks",
    "bundled_suite_path",
    "get_task",
    "iter_samples",
    "load_captions",
    "load_samples",
    "match_tasks",
    "resolve_suite",
    "select_tasks",
]
