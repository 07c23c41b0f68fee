"""What is asked: Sample, Task, the SArena task registry, suites and the SArena loader."""

from svgarena.tasks._registry import EDIT_SUBTASKS, TASK_IDS, TASKS, get_task, match_tasks
from svgarena.tasks._types import AnswerKind, Sample, Task

__all__ = [
    "AnswerKind",
    "EDIT_SUBTASKS",
    "Sample",
    "TASKS",
    "TASK_IDS",
    "Task",
    "get_task",
    "match_tasks",
]
