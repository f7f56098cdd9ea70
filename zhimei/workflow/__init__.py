"""workflow (智能体 workflows): declarative pipelines of zhimei capabilities with human-approval steps, run as
jobs on the spine's job system.

A workflow is a YAML or TOML file (see `zhimei.workflow.definition`): triggers (manual, schedule, new item,
hot-topic alert), steps calling registered step types (`step_types()`), conditions (`when`), loops (`foreach`)
and approval steps that pause the run until a person decides (`decide_approval`), surviving restarts.

Other areas use these names, not the submodules."""

from __future__ import annotations

from zhimei.workflow.approvals import approval_inbox, decide_approval, expire_approvals, get_approval
from zhimei.workflow.definition import parse_duration, parse_workflow
from zhimei.workflow.engine import cancel_run, get_run, list_runs, retry_step, start_run, wait_run
from zhimei.workflow.errors import StepFailed, WorkflowError
from zhimei.workflow.saved import (
    delete_workflow,
    get_workflow,
    install_template,
    list_templates,
    list_workflows,
    save_workflow,
    set_enabled,
)
from zhimei.workflow.steps import Param, StepCall, StepType, register_step, step_type, step_types
from zhimei.workflow.sweep import sweep
from zhimei.workflow.triggers import fire_triggers

__all__ = [
    "WorkflowError", "StepFailed", "parse_workflow", "parse_duration", "step_types", "save_workflow",
    "list_workflows", "get_workflow", "delete_workflow", "set_enabled", "list_templates", "install_template",
    "start_run", "get_run", "list_runs", "wait_run", "approval_inbox", "get_approval", "decide_approval",
    "retry_step", "cancel_run", "sweep", "fire_triggers", "expire_approvals", "Param", "StepCall", "StepType",
    "register_step", "step_type",
]
